import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { telnyxSmsSender } from "../workers/carriers/telnyx/sms";
import { nowIso } from "../workers/lib/time";
import { GIVE_UP_AFTER_MS, SEND_LEASE_MS, sendQueuedMessage, sendQueuedSms, UNCERTAIN_WAIT_MS } from "../workers/sms/outbox";
import { applySmsCallback } from "../workers/sms/routes";
import type { OutboundSms, SendResult, SmsSender } from "../workers/sms/sender";
import { newAccount } from "./helpers";
import { TelnyxStandin } from "./support/carriers/telnyx-standin";

/** A carrier that answers from a script, and remembers every request. */
function carrier(...answers: (SendResult | Error)[]) {
	const asked: OutboundSms[] = [];
	const sender: SmsSender = {
		simulated: false,
		async send(sms) {
			asked.push(sms);
			const answer = answers.shift() ?? { kind: "accepted", providerMessageId: `SM${asked.length}` };
			if (answer instanceof Error) throw answer;
			return answer;
		},
	};
	return { sender, asked };
}

/** A message as the send route commits it for a carrier: queued, due now. */
async function queuedMessage(accountId: string, createdAt = Date.now()) {
	const id = crypto.randomUUID();
	const at = nowIso(createdAt);
	await env.DB.prepare(
		`INSERT INTO sms_messages (id, account_id, to_phone, sender, text, segments, status, created_at, updated_at, next_attempt_at)
		 VALUES (?, ?, '+14155550100', '+14155550199', 'Your appointment is at 10:00', 1, 'queued', ?, ?, ?)`,
	)
		.bind(id, accountId, at, at, at)
		.run();
	return id;
}

const stored = (id: string) =>
	env.DB.prepare(
		"SELECT status, attempts, failure_reason, provider_message_id, sent_at, next_attempt_at FROM sms_messages WHERE id = ?",
	)
		.bind(id)
		.first<{
			status: string;
			attempts: number;
			failure_reason: string | null;
			provider_message_id: string | null;
			sent_at: string | null;
			next_attempt_at: string | null;
		}>();

const eventsOf = async (id: string) =>
	(
		await env.DB.prepare("SELECT type FROM events WHERE json_extract(payload, '$.data.message_id') = ? ORDER BY type")
			.bind(id)
			.all<{ type: string }>()
	).results.map((row) => row.type);

describe("SMS through a carrier: queued first, sent once, never lost", () => {
	it("an accepted message is sent with its carrier id and one sms.sent event", async () => {
		const account = await newAccount();
		const id = await queuedMessage(account.id);
		const { sender, asked } = carrier({ kind: "accepted", providerMessageId: "SM123" });
		expect(await sendQueuedMessage(env, id, Date.now(), sender)).toBe(true);
		expect(asked).toEqual([
			{
				messageId: id,
				accountId: account.id,
				to: "+14155550100",
				from: "+14155550199",
				text: "Your appointment is at 10:00",
				firstAskedAt: null,
			},
		]);
		expect(await stored(id)).toMatchObject({ status: "sent", provider_message_id: "SM123", next_attempt_at: null });
		expect(await eventsOf(id)).toEqual(["sms.sent"]);
		// Sent is sent: another sender finds nothing to claim.
		expect(await sendQueuedMessage(env, id, Date.now(), sender)).toBe(false);
		expect(asked).toHaveLength(1);
	});

	it("concurrent senders (the request and the cron) send it once", async () => {
		const account = await newAccount();
		const id = await queuedMessage(account.id);
		const { sender, asked } = carrier();
		const results = await Promise.all(Array.from({ length: 8 }, () => sendQueuedMessage(env, id, Date.now(), sender)));
		expect(results.filter(Boolean)).toHaveLength(1);
		expect(asked).toHaveLength(1);
		expect(await stored(id)).toMatchObject({ status: "sent", attempts: 1 });
	});

	it("a carrier outage leaves it queued with the reason and a backoff past Retry-After; the cron sends it when due", async () => {
		const account = await newAccount();
		const now = Date.now();
		const id = await queuedMessage(account.id, now);
		const { sender, asked } = carrier({ kind: "transient", reason: "Twilio 503: Service Unavailable", retryAfterMs: 30_000 });
		await sendQueuedMessage(env, id, now, sender);
		const waiting = await stored(id);
		expect(waiting).toMatchObject({ status: "queued", failure_reason: "Twilio 503: Service Unavailable" });
		expect(Date.parse(waiting?.next_attempt_at ?? "")).toBeGreaterThanOrEqual(now + 30_000);
		// Not before it is due.
		await sendQueuedSms(env, now + 10_000, sender);
		expect(asked).toHaveLength(1);
		await sendQueuedSms(env, now + 31_000, sender);
		expect(asked).toHaveLength(2);
		expect(await stored(id)).toMatchObject({ status: "sent", attempts: 2 });
		expect(await eventsOf(id)).toEqual(["sms.sent"]);
	});

	it("a refusal for good fails it with the carrier's reason and one sms.failed", async () => {
		const account = await newAccount();
		const id = await queuedMessage(account.id);
		const { sender } = carrier({ kind: "permanent", reason: "Twilio 21211: The 'To' number is not a valid phone number." });
		await sendQueuedMessage(env, id, Date.now(), sender);
		expect(await stored(id)).toMatchObject({
			status: "failed",
			failure_reason: "Twilio 21211: The 'To' number is not a valid phone number.",
			next_attempt_at: null,
		});
		expect(await eventsOf(id)).toEqual(["sms.failed"]);
	});

	it("a sender that lost the carrier's answer (or died) is followed by one that asks with firstAskedAt, after its lease", async () => {
		const account = await newAccount();
		const now = Date.now();
		const id = await queuedMessage(account.id, now);
		const { sender, asked } = carrier(new TypeError("Network connection lost."));
		await sendQueuedMessage(env, id, now, sender);
		expect(await stored(id)).toMatchObject({ status: "queued", failure_reason: "Network connection lost." });
		// A sender that died holding the claim: nobody else sends until the lease is over.
		await env.DB.prepare("UPDATE sms_messages SET next_attempt_at = ? WHERE id = ?")
			.bind(nowIso(now + SEND_LEASE_MS), id)
			.run();
		await sendQueuedSms(env, now + SEND_LEASE_MS - 1_000, sender);
		expect(asked).toHaveLength(1);
		await sendQueuedSms(env, now + SEND_LEASE_MS, sender);
		expect(asked.map((sms) => sms.firstAskedAt)).toEqual([null, Date.parse(nowIso(now))]);
	});

	it("a send that got no answer waits for the carrier's report before sending again: a report in that time ends it, sent once", async () => {
		const account = await newAccount();
		const now = Date.now();
		const id = await queuedMessage(account.id, now);
		const { sender, asked } = carrier({ kind: "transient", reason: "The provider did not answer in time.", uncertain: true });
		await sendQueuedMessage(env, id, now, sender);
		// A second, a minute, four minutes later: not again.
		for (const later of [1_000, 60_000, UNCERTAIN_WAIT_MS - 30_000]) await sendQueuedSms(env, now + later, sender);
		expect(asked).toHaveLength(1);
		// The carrier did take it: its report arrives and names it.
		const report = await applySmsCallback(
			env,
			{ event_id: "SM1:sent", message_id: id, status: "sent", occurred_at: new Date(now + 2_000).toISOString() },
			"twilio",
		);
		expect(report).toBe("applied");
		await sendQueuedSms(env, now + UNCERTAIN_WAIT_MS * 2, sender);
		expect(asked).toHaveLength(1);
		expect(await stored(id)).toMatchObject({ status: "sent", next_attempt_at: null });
	});

	it("through Telnyx: a message Telnyx took whose answer was lost is not sent again before its report had time to arrive", async () => {
		const standin = new TelnyxStandin();
		const fetched = vi.spyOn(globalThis, "fetch").mockImplementation(standin.fetch);
		try {
			const account = await newAccount();
			const created = Date.now();
			const id = await queuedMessage(account.id, created);
			const sender = telnyxSmsSender(env);
			// Telnyx takes the message; the connection drops before its answer reaches callgate.
			standin.faults.push("lost");
			expect(await sendQueuedMessage(env, id, created, sender)).toBe(true);
			expect(standin.messages.size).toBe(1);
			const due = Date.parse((await stored(id))?.next_attempt_at ?? "");
			expect(due - created).toBeGreaterThanOrEqual(UNCERTAIN_WAIT_MS);
			// The cron a second and a minute later sends nothing: one SMS reached the customer.
			await sendQueuedSms(env, created + 1_000, sender);
			await sendQueuedSms(env, created + 60_000, sender);
			expect(standin.messages.size).toBe(1);
		} finally {
			fetched.mockRestore();
		}
	});

	it("a message no carrier took within 24 hours fails with the last reason", async () => {
		const account = await newAccount();
		const created = Date.now() - GIVE_UP_AFTER_MS - 1;
		const id = await queuedMessage(account.id, created);
		const { sender } = carrier({ kind: "transient", reason: "HTTP 503" });
		await sendQueuedMessage(env, id, Date.now(), sender);
		expect(await stored(id)).toMatchObject({
			status: "failed",
			failure_reason: "Not accepted by the carrier within 24 hours: HTTP 503",
		});
		expect(await eventsOf(id)).toEqual(["sms.failed"]);
	});
});
