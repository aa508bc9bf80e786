import { z } from "zod";
import { isRecordedAlready } from "../dialer/provider-events";
import { deliveriesMade, dispatchEvents, eventStatements } from "../events/outbox";
import { invalidField, notFound } from "../http/errors";
import { PageQuery, pageOf, pageOfRows } from "../http/pagination";
import { uuidParam } from "../http/params";
import { readSignedCallback } from "../http/signed-callback";
import { createOnce } from "../idempotency/create-once";
import { requirePhone } from "../lib/phone";
import { nowIso } from "../lib/time";
import { defaultCallerId, requireCallerId } from "../pbx/caller-ids";
import { type AuthedContext, publicRoute, type Route, route } from "../routing/route";
import { smsEvent } from "./events";
import { sendQueuedMessage } from "./outbox";
import { smsSegments } from "./segments";
import { smsSenderFor } from "./sender";

const tags = ["integrations"];

export const SendSmsBody = z.strictObject({
	to: z.string().min(3).max(32),
	from: z
		.string()
		.regex(/^[A-Za-z0-9 +]{1,15}$/, "A sender id: up to 15 letters, digits, spaces or +.")
		.describe(
			"Through a carrier: one of the account's caller ids (default: the default caller id); the simulated provider takes any sender id.",
		)
		.optional(),
	text: z.string().min(1).max(1600),
});

export const Sms = z.object({
	id: z.uuid(),
	to: z.string(),
	from: z.string().nullable(),
	text: z.string(),
	segments: z.int(),
	status: z.enum(["queued", "sent", "delivered", "failed"]),
	created_at: z.iso.datetime(),
	sent_at: z.iso.datetime().nullable(),
	delivered_at: z.iso.datetime().nullable(),
	failure_reason: z
		.string()
		.nullable()
		.describe(
			"Why the carrier refused or could not deliver it (its error code and message); while queued, the last transient refusal.",
		),
});

export const SmsCallback = z.strictObject({
	event_id: z.string().min(1).max(200),
	message_id: z.uuid(),
	status: z.enum(["delivered", "failed"]),
	occurred_at: z.iso.datetime(),
});

/** A delivery report as every provider's callback route hands it over: carriers also report `sent`, and why a message failed. */
export interface SmsReport {
	event_id: string;
	message_id: string;
	status: "sent" | "delivered" | "failed";
	occurred_at: string;
	/** The carrier's error code and message, one line. */
	failure_reason?: string;
}

interface MessageOwner {
	account_id: string;
	to_phone: string;
}

const COLUMNS =
	'id, to_phone AS "to", sender AS "from", text, segments, status, created_at, sent_at, delivered_at, failure_reason';
type SmsRow = z.infer<typeof Sms>;

/** Field by field, never the row: what the API shows is what Sms documents. */
const present = (row: SmsRow): SmsRow => ({
	id: row.id,
	to: row.to,
	from: row.from,
	text: row.text,
	segments: row.segments,
	status: row.status,
	created_at: row.created_at,
	sent_at: row.sent_at,
	delivered_at: row.delivered_at,
	failure_reason: row.failure_reason,
});

async function findSms(db: D1Database, accountId: string, id: string) {
	const row = await db
		.prepare(`SELECT ${COLUMNS} FROM sms_messages WHERE id = ? AND account_id = ?`)
		.bind(id, accountId)
		.first<SmsRow>();
	if (!row) throw notFound("SMS");
	return present(row);
}

/**
 * Applies a delivery report once: deduplicated by (provider, event id); a message only moves
 * forward (queued → sent → delivered or failed, never back). The event id, the message's
 * update and the event it causes commit in one transaction, so a report that failed (thrown,
 * answered 5xx) is applied by its redelivery.
 */
export async function applySmsCallback(
	env: Env,
	report: SmsReport,
	provider = "sms",
	/** The message's account and number when the caller just wrote it (the simulated report): no query for them. */
	known?: MessageOwner,
): Promise<"applied" | "duplicate" | "stale" | "unknown-message"> {
	const message =
		known ??
		(await env.DB.prepare("SELECT account_id, to_phone FROM sms_messages WHERE id = ?")
			.bind(report.message_id)
			.first<MessageOwner>());
	// Nothing to commit the id with, so it is not recorded.
	if (!message) return "unknown-message";
	const at = new Date(report.occurred_at).toISOString();
	const event = smsEvent(`sms.${report.status}`, report.message_id, at, {
		to: message.to_phone,
		status: report.status,
		...(report.failure_reason ? { failure_reason: report.failure_reason } : {}),
	});
	const from = report.status === "sent" ? "('queued')" : "('queued', 'sent')";
	let results: D1Result[];
	try {
		results = await env.DB.batch([
			// A plain insert: an id seen before fails the whole batch, effect included.
			env.DB.prepare("INSERT INTO provider_events (event_id, provider, received_at) VALUES (?, ?, ?)").bind(
				report.event_id,
				provider,
				nowIso(),
			),
			env.DB.prepare(
				`UPDATE sms_messages SET status = ?1, sent_at = coalesce(sent_at, ?2),
				        delivered_at = CASE WHEN ?1 = 'delivered' THEN ?2 ELSE delivered_at END,
				        failure_reason = CASE WHEN ?1 = 'failed' THEN coalesce(?4, failure_reason) WHEN ?1 = 'delivered' THEN NULL ELSE failure_reason END,
				        next_attempt_at = NULL, updated_at = ?2
				  WHERE id = ?3 AND status IN ${from}`,
			).bind(report.status, at, report.message_id, report.failure_reason ?? null),
			// The event only when this report moved the message to this status.
			...eventStatements(env.DB, message.account_id, [event], {
				sql: "EXISTS (SELECT 1 FROM sms_messages WHERE id = ? AND status = ? AND updated_at = ?)",
				binds: [report.message_id, report.status, at],
			}),
		]);
	} catch (error) {
		if (isRecordedAlready(error)) return "duplicate";
		throw error;
	}
	const [, updated, ...announced] = results;
	if (!updated || updated.meta.changes === 0) return "stale";
	await dispatchEvents(env, message.account_id, [event], deliveriesMade(announced));
	return "applied";
}

const send = route({
	method: "POST",
	path: "/api/integrations/sms",
	summary: "Send an SMS through the configured provider (simulated locally: sent at once, delivered right after).",
	tags,
	body: SendSmsBody,
	maxBodyBytes: 16 * 1024,
	idempotent: true,
	responses: { 201: { description: "The message", schema: Sms, headers: ["Location"] } },
	async handler(c) {
		const { env, principal, body } = c;
		const to = requirePhone(body.to, principal.defaultRegion, "to");
		const sender = smsSenderFor(env);
		if (!sender.simulated) return sendThroughCarrier(c, to);
		const now = nowIso();
		const from = body.from ?? null;
		const segments = smsSegments(body.text);
		const sent = (id: string) => smsEvent("sms.sent", id, now, { to, segments });
		const { id, existed, results } = await createOnce(c, "sms", crypto.randomUUID(), (id) => [
			env.DB.prepare(
				"INSERT INTO sms_messages (id, account_id, to_phone, sender, text, segments, status, created_at, updated_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, 'sent', ?, ?, ?)",
			).bind(id, principal.accountId, to, from, body.text, segments, now, now, now),
			...eventStatements(env.DB, principal.accountId, [sent(id)]),
		]);
		// A replay shows the message as it is now; a new one is what this batch just wrote.
		if (existed) return created(await findSms(env.DB, principal.accountId, id));
		const made = deliveriesMade(results.slice(1));
		c.ctx.waitUntil(
			(async () => {
				await dispatchEvents(env, principal.accountId, [sent(id)], made);
				await applySmsCallback(
					env,
					{ event_id: `sim_${id}_delivered`, message_id: id, status: "delivered", occurred_at: nowIso() },
					"sms",
					{ account_id: principal.accountId, to_phone: to },
				);
			})().catch((error: unknown) =>
				console.error("sms follow-up failed", id, error instanceof Error ? error.message : String(error)),
			),
		);
		return created(
			present({
				id,
				to,
				from,
				text: body.text,
				segments,
				status: "sent",
				created_at: now,
				sent_at: now,
				delivered_at: null,
				failure_reason: null,
			}),
		);
	},
});

const created = (sms: SmsRow) => Response.json(sms, { status: 201, headers: { Location: `/api/integrations/sms/${sms.id}` } });

/**
 * Through a carrier: the message is committed `queued` first (so a crash loses nothing: the
 * minute cron sends what is still queued), then sent once before the answer, which shows what
 * the carrier said: `sent`, `failed` with its reason, or still `queued` while it is down.
 */
async function sendThroughCarrier(c: AuthedContext<z.infer<typeof SendSmsBody>, undefined>, to: string): Promise<Response> {
	const { env, principal, body } = c;
	// A carrier needs a sender: one of the account's own caller ids (never another tenant's number
	// on the shared carrier account), else the account's default.
	const from = body.from
		? await requireCallerId(env.DB, principal, body.from, "from")
		: await defaultCallerId(env.DB, principal.accountId);
	if (!from) throw invalidField("from", "No sender to send from: register a caller id under /api/pbx/caller-ids or send from.");
	const now = nowIso();
	const { id } = await createOnce(c, "sms", crypto.randomUUID(), (id) => [
		env.DB.prepare(
			`INSERT INTO sms_messages (id, account_id, to_phone, sender, text, segments, status, created_at, updated_at, next_attempt_at)
			 VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)`,
		).bind(id, principal.accountId, to, from, body.text, smsSegments(body.text), now, now, now),
	]);
	// Also for a replayed key whose first request died before sending: the claim makes it once.
	await sendQueuedMessage(env, id).catch((error: unknown) =>
		console.error("sms send failed; the cron sends it", id, error instanceof Error ? error.message : String(error)),
	);
	return created(await findSms(env.DB, principal.accountId, id));
}

const list = route({
	method: "GET",
	path: "/api/integrations/sms",
	summary: "The account's SMS messages.",
	tags,
	query: PageQuery,
	responses: { 200: { description: "A page of messages", schema: pageOf(Sms) } },
	async handler({ env, principal, query }) {
		const { rows, next_cursor } = await pageOfRows<SmsRow>(
			env.DB,
			`SELECT ${COLUMNS} FROM sms_messages WHERE account_id = ?`,
			[principal.accountId],
			query,
		);
		return Response.json({ data: rows.map(present), next_cursor });
	},
});

const get = route({
	method: "GET",
	path: "/api/integrations/sms/:id",
	summary: "One SMS message and its delivery status.",
	tags,
	responses: { 200: { description: "The message", schema: Sms } },
	handler: async ({ env, principal, params }) =>
		Response.json(await findSms(env.DB, principal.accountId, uuidParam(params, "id", "SMS"))),
});

const callback = publicRoute({
	method: "POST",
	path: "/api/webhooks/sms",
	summary:
		"Delivery reports from the SMS provider, signed like dialer callbacks (X-Callgate-Signature with SMS_SECRET); deduplicated by event_id. A 5xx means the report was not applied: deliver it again.",
	tags: ["webhooks"],
	headers: ["X-Callgate-Signature"],
	responses: {
		200: {
			description: "Applied, duplicate, stale or for an unknown message",
			schema: z.object({ result: z.enum(["applied", "duplicate", "stale", "unknown-message"]) }),
		},
		401: { description: "Bad or missing signature" },
		500: { description: "Not applied: redeliver the same report" },
	},
	async handler({ env, request }) {
		return Response.json({ result: await applySmsCallback(env, await readSignedCallback(request, env.SMS_SECRET, SmsCallback)) });
	},
});

export const smsRoutes: Route[] = [send, list, get, callback];
