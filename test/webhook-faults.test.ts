import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../workers/index";
import { signProviderPayload } from "../workers/lib/signatures";
import { MINUTE } from "../workers/lib/time";
import { MAX_ATTEMPTS } from "../workers/webhooks/backoff";
import { attemptDelivery, type DeliveryMessage, LEASE_MS } from "../workers/webhooks/delivery";
import { RELAY_GRACE_MS, requeueStuckDeliveries } from "../workers/webhooks/relay";
import { callJson, countRows, pbxAccount } from "./helpers";
import { type FaultMode, failD1, failMethod, failQueueSends, restoreFaults } from "./support/faults";

/** The attempt's result batch (its log row, the delivery's new state) and the claim, as the fault harness matches them. */
const RESULT_BATCH = "INSERT INTO webhook_attempts";
const CLAIM = "SET status = 'sending'";
/** A queue's answer to a send it took, for sends the test keeps out of the real queue (its consumer would race the test). */
const ACCEPTED = { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } };

afterEach(() => {
	restoreFaults();
	vi.restoreAllMocks();
});

/** Plays the customer's receiver: answers with `statuses` in turn (then 200), recording the webhook-id of each request. */
function receiver(statuses: number[] = []) {
	const ids: string[] = [];
	vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
		ids.push(new Request(input, init).headers.get("webhook-id") ?? "");
		return new Response(null, { status: statuses.shift() ?? 200 });
	});
	return ids;
}

/**
 * A call.completed event with one pending delivery whose queue message never went out: the
 * test drives the delivery itself, and no queued copy races it.
 */
async function pendingDelivery() {
	const account = await pbxAccount();
	const endpoint = await callJson<{ id: string }>("/api/webhooks/endpoints", {
		token: account.token,
		body: { url: "https://receiver.example/hooks", events: ["call.completed"] },
	});
	expect(endpoint.status).toBe(201);
	const callId = crypto.randomUUID();
	const at = new Date().toISOString();
	await env.DB.prepare(
		`INSERT INTO calls (id, account_id, kind, from_extension, to_phone, status, created_at, updated_at)
		 VALUES (?, ?, 'click_to_call', '1001', '+84987654321', 'ringing', ?, ?)`,
	)
		.bind(callId, account.id, at, at)
		.run();
	const sends = failQueueSends();
	const body = JSON.stringify({ event_id: `done-${callId}`, call_id: callId, status: "completed", occurred_at: at });
	const callback = await callJson<{ result: string }>("/api/webhooks/dialer", {
		method: "POST",
		rawBody: body,
		headers: {
			"Content-Type": "application/json",
			"X-Callgate-Signature": await signProviderPayload(env.DIALER_SECRET ?? "", body),
		},
	});
	// The dispatch after the commit failed; the callback's effect did not.
	expect(sends.reduce((n, fault) => n + fault.failed, 0)).toBeGreaterThan(0);
	expect(callback.status).toBe(200);
	expect(callback.body).toEqual({ result: "applied" });
	restoreFaults();
	const delivery = await env.DB.prepare("SELECT id, event_id, status, attempts FROM webhook_deliveries WHERE endpoint_id = ?")
		.bind(endpoint.body.id)
		.first<{ id: string; event_id: string; status: string; attempts: number }>();
	if (!delivery) throw new Error("no delivery");
	return { account, endpointId: endpoint.body.id, ...delivery };
}

/** One queue message for the delivery through the Worker's consumer: what it acked and what it retried. */
async function consume(deliveryId: string) {
	const id = crypto.randomUUID();
	const batch = createMessageBatch<DeliveryMessage>("callgate-webhooks", [
		{ id, timestamp: new Date(), attempts: 1, body: { delivery_id: deliveryId } },
	]);
	const ctx = createExecutionContext();
	await worker.queue(batch, env, ctx);
	const result = await getQueueResult(batch, ctx);
	return { acked: result.explicitAcks.includes(id), retried: result.retryMessages.some((m) => m.msgId === id) };
}

const stateOf = (id: string) =>
	env.DB.prepare("SELECT status, attempts FROM webhook_deliveries WHERE id = ?")
		.bind(id)
		.first<{ status: string; attempts: number }>();

async function log(token: string, endpointId: string) {
	const { body } = await callJson<{ data: { status: string; attempts: { status_code: number }[] }[] }>(
		`/api/webhooks/endpoints/${endpointId}/deliveries`,
		{ token },
	);
	return body.data.map((d) => ({ status: d.status, codes: d.attempts.map((a) => a.status_code) }));
}

/** Once the lease of an attempt that failed midway has run out. */
const afterLease = () => Date.now() + LEASE_MS + 1_000;

describe("webhook delivery fault points", () => {
	it.each<FaultMode>(["throw", "lose-answer"])(
		"the result is not recorded after a successful POST (%s): retried, same webhook-id, delivered once in the log",
		async (mode) => {
			const delivery = await pendingDelivery();
			const received = receiver();
			// Both writes fail: the batch's, then the delivery's own (test/webhook-batches covers one failure absorbed).
			failD1(RESULT_BATCH, { mode, times: 2 });
			expect(await consume(delivery.id)).toEqual({ acked: false, retried: true });
			if (mode === "throw") {
				// Still leased by the attempt that failed: a copy arriving meanwhile waits for the lease, it does not drop the delivery.
				expect(await stateOf(delivery.id)).toMatchObject({ status: "sending", attempts: 0 });
				expect(await consume(delivery.id)).toEqual({ acked: false, retried: true });
			}
			expect(await attemptDelivery(env, delivery.id, afterLease())).toEqual({ done: true });
			// At least once: the receiver may see the event twice, always under the same webhook-id.
			expect(received).toHaveLength(mode === "throw" ? 2 : 1);
			expect(new Set(received)).toEqual(new Set([delivery.event_id]));
			expect(await log(delivery.account.token, delivery.endpointId)).toEqual([{ status: "delivered", codes: [200] }]);
			expect(await countRows("events", "id = ?", delivery.event_id)).toBe(1);
		},
	);

	it.each<FaultMode>(["throw", "lose-answer"])(
		"the claim fails (%s): the message is retried and the event delivered once",
		async (mode) => {
			const delivery = await pendingDelivery();
			const received = receiver();
			failD1(CLAIM, { mode, times: 1 });
			expect(await consume(delivery.id)).toEqual({ acked: false, retried: true });
			expect(received).toHaveLength(0);
			if (mode === "throw") {
				expect(await consume(delivery.id)).toEqual({ acked: true, retried: false });
			} else {
				// The claim took its lease before its answer was lost: the retry waits for it to end.
				expect(await consume(delivery.id)).toEqual({ acked: false, retried: true });
				expect(await attemptDelivery(env, delivery.id, afterLease())).toEqual({ done: true });
			}
			expect(received).toEqual([delivery.event_id]);
			expect(await stateOf(delivery.id)).toMatchObject({ status: "delivered", attempts: 1 });
		},
	);

	it("the queue send after the event's commit fails: the delivery stays pending, and the cron relay queues it", async () => {
		const delivery = await pendingDelivery();
		expect(delivery).toMatchObject({ status: "pending", attempts: 0 });
		const sent = vi.spyOn(env.WEBHOOK_QUEUE, "sendBatch").mockResolvedValue(ACCEPTED);
		const queued = () =>
			sent.mock.calls.flatMap(([messages]) => [...messages].map((m) => (m.body as DeliveryMessage).delivery_id));
		// Within the grace a message may still be on its way: no copy yet.
		await requeueStuckDeliveries(env, Date.now());
		expect(queued()).not.toContain(delivery.id);
		const later = Date.now() + RELAY_GRACE_MS + MINUTE;
		await requeueStuckDeliveries(env, later);
		expect(queued().filter((id) => id === delivery.id)).toHaveLength(1);
		// Queued again, it is due from then: the next minutes' runs leave it alone for another grace.
		await requeueStuckDeliveries(env, later + MINUTE);
		expect(queued().filter((id) => id === delivery.id)).toHaveLength(1);
		await requeueStuckDeliveries(env, later + RELAY_GRACE_MS + MINUTE);
		expect(queued().filter((id) => id === delivery.id)).toHaveLength(2);

		const received = receiver();
		expect(await attemptDelivery(env, delivery.id, later + RELAY_GRACE_MS + MINUTE)).toEqual({ done: true });
		expect(received).toEqual([delivery.event_id]);
		expect(await stateOf(delivery.id)).toMatchObject({ status: "delivered" });
	});

	it("the dead-letter send fails after the last attempt: the message is retried, and dead-lettered on the next try", async () => {
		const delivery = await pendingDelivery();
		await env.DB.prepare("UPDATE webhook_deliveries SET attempts = ? WHERE id = ?")
			.bind(MAX_ATTEMPTS - 1, delivery.id)
			.run();
		const received = receiver([500, 500]);
		const deadLetters = vi.spyOn(env.WEBHOOK_DLQ, "send").mockResolvedValue(ACCEPTED);
		failMethod(env.WEBHOOK_DLQ, "send", { times: 1 });
		expect(await consume(delivery.id)).toEqual({ acked: false, retried: true });
		// Not marked dead without its dead letter.
		expect(await stateOf(delivery.id)).toMatchObject({ status: "sending", attempts: MAX_ATTEMPTS - 1 });
		expect(deadLetters).not.toHaveBeenCalled();

		expect(await attemptDelivery(env, delivery.id, afterLease())).toEqual({ done: true });
		expect(received).toHaveLength(2);
		expect(deadLetters).toHaveBeenCalledTimes(1);
		expect(deadLetters).toHaveBeenCalledWith(expect.objectContaining({ delivery_id: delivery.id, attempts: MAX_ATTEMPTS }));
		expect(await stateOf(delivery.id)).toMatchObject({ status: "dead", attempts: MAX_ATTEMPTS });
	});
});
