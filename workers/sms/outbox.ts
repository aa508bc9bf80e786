import { providerBackoffMs } from "../dialer/dial-result";
import { dispatchEvents, eventStatements } from "../events/outbox";
import { nowIso } from "../lib/time";
import { smsEvent } from "./events";
import { type SendResult, type SmsSender, smsSenderFor } from "./sender";

/**
 * How long a claim on a queued message lasts: longer than a send request may take, so a live
 * sender is never overtaken, short enough that a sender that died is replaced by the next cron.
 */
export const SEND_LEASE_MS = 60_000;
/** A message no carrier took within this long fails, with the last reason it was refused. */
export const GIVE_UP_AFTER_MS = 24 * 60 * 60_000;
/** After a send that got no answer, how long the carrier's report has to name the message before it is sent again. */
export const UNCERTAIN_WAIT_MS = 5 * 60_000;
/** Messages sent per cron run; the rest wait for the next minute. */
const CRON_BATCH = 50;

interface Claimed {
	id: string;
	account_id: string;
	to_phone: string;
	sender: string;
	text: string;
	attempts: number;
	created_at: string;
}

/**
 * Sends one queued message through the configured carrier, exactly once however many senders
 * race (the request that created it, the cron): each claims the message first with a
 * compare-and-set on its due time, so only one holds it at a time. A carrier's answer moves it
 * to `sent` (transient refusals leave it queued with a backoff, permanent ones fail it with the
 * carrier's reason). A sender that dies after the carrier took the message leaves its claim to
 * expire; the next sender asks with `firstAskedAt`, so the adapter looks for it before sending
 * again. Answers whether this call held the claim.
 */
export async function sendQueuedMessage(
	env: Env,
	id: string,
	now = Date.now(),
	sender: SmsSender = smsSenderFor(env),
): Promise<boolean> {
	const claimed = await env.DB.prepare(
		`UPDATE sms_messages SET next_attempt_at = ?1, attempts = attempts + 1
		  WHERE id = ?2 AND status = 'queued' AND next_attempt_at <= ?3
		  RETURNING id, account_id, to_phone, sender, text, attempts, created_at`,
	)
		.bind(nowIso(now + SEND_LEASE_MS), id, nowIso(now))
		.first<Claimed>();
	if (!claimed) return false;
	let result: SendResult;
	const started = Date.now();
	try {
		result = await sender.send({
			messageId: claimed.id,
			accountId: claimed.account_id,
			to: claimed.to_phone,
			from: claimed.sender,
			text: claimed.text,
			firstAskedAt: claimed.attempts > 1 ? Date.parse(claimed.created_at) : null,
		});
	} catch (error) {
		// Adapters answer refusals; a throw is a bug or a dropped connection: the carrier may have it.
		result = { kind: "transient", reason: error instanceof Error ? error.message : String(error), uncertain: true };
	}
	// On the caller's clock (tests drive it), moved on by how long the carrier took.
	await recordSendResult(env, claimed, result, now + (Date.now() - started));
	return true;
}

async function recordSendResult(env: Env, message: Claimed, result: SendResult, now: number): Promise<void> {
	const at = nowIso(now);
	if (result.kind === "transient" && now - Date.parse(message.created_at) < GIVE_UP_AFTER_MS) {
		// No answer came: the carrier may have the message. Its report names it within moments if so
		// (and moves it on); only after that wait is it looked up and sent again.
		const wait = result.uncertain ? Math.max(UNCERTAIN_WAIT_MS, result.retryAfterMs ?? 0) : result.retryAfterMs;
		const retryAt = now + providerBackoffMs(message.attempts, Math.random(), wait);
		await env.DB.prepare(
			"UPDATE sms_messages SET next_attempt_at = ?, failure_reason = ?, updated_at = ? WHERE id = ? AND status = 'queued'",
		)
			.bind(nowIso(retryAt), result.reason, at, message.id)
			.run();
		return;
	}
	const accepted = result.kind === "accepted";
	const reason = accepted
		? null
		: result.kind === "permanent"
			? result.reason
			: `Not accepted by the carrier within 24 hours: ${result.reason}`;
	const event = accepted
		? smsEvent("sms.sent", message.id, at, { to: message.to_phone })
		: smsEvent("sms.failed", message.id, at, { to: message.to_phone, status: "failed", failure_reason: reason });
	// Only from `queued`: a delivery report that got here first has already moved it on.
	await env.DB.batch([
		env.DB.prepare(
			`UPDATE sms_messages SET status = ?1, sent_at = CASE WHEN ?1 = 'sent' THEN ?2 ELSE sent_at END, failure_reason = ?3,
			        provider_message_id = coalesce(?4, provider_message_id), next_attempt_at = NULL, updated_at = ?2
			  WHERE id = ?5 AND status = 'queued'`,
		).bind(accepted ? "sent" : "failed", at, reason, accepted ? (result.providerMessageId ?? null) : null, message.id),
		...eventStatements(env.DB, message.account_id, [event], {
			sql: "EXISTS (SELECT 1 FROM sms_messages WHERE id = ? AND updated_at = ? AND status = ?)",
			binds: [message.id, at, accepted ? "sent" : "failed"],
		}),
	]);
	await dispatchEvents(env, message.account_id, [event]);
}

/**
 * The minute cron's SMS job: sends messages still queued whose request died, whose carrier was
 * down, or whose backoff is over. Oldest due first.
 */
export async function sendQueuedSms(
	env: Env,
	now = Date.now(),
	sender: SmsSender = smsSenderFor(env),
): Promise<{ due: number; sent: number }> {
	if (sender.simulated) return { due: 0, sent: 0 };
	const { results } = await env.DB.prepare(
		"SELECT id FROM sms_messages WHERE status = 'queued' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
	)
		.bind(nowIso(now), CRON_BATCH)
		.all<{ id: string }>();
	const outcomes = await Promise.allSettled(results.map((row) => sendQueuedMessage(env, row.id, now, sender)));
	for (const outcome of outcomes) {
		if (outcome.status === "rejected") {
			console.error("sms send failed", outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason));
		}
	}
	return { due: results.length, sent: outcomes.filter((outcome) => outcome.status === "fulfilled" && outcome.value).length };
}
