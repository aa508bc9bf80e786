import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { newEvent } from "../workers/events/event";
import { eventStatements } from "../workers/events/outbox";
import worker from "../workers/index";
import {
	attemptDeliveries,
	type DeliveryMessage,
	LEASE_MS,
	PARALLEL_ATTEMPTS,
	START_WITHIN_MS,
} from "../workers/webhooks/delivery";
import { callJson, countRows, pbxAccount } from "./helpers";
import { type FaultMode, failD1, restoreFaults } from "./support/faults";

/** The batch's result write (and each delivery's own, after it failed), as the fault harness matches them. */
const RESULT_WRITE = "INSERT INTO webhook_attempts";

afterEach(() => {
	restoreFaults();
	vi.restoreAllMocks();
});

interface Hook {
	id: string;
	secret: string;
	url: string;
}

interface Delivery {
	id: string;
	event_id: string;
	endpoint_id: string;
}

/**
 * `events` sms.sent events for an account with `endpoints` endpoints subscribed to them, stored
 * as the outbox stores them but never queued: each test hands the deliveries to the consumer
 * itself, and no queued copy races it.
 */
async function pendingDeliveries(endpoints: number, events: number) {
	const account = await pbxAccount();
	const hooks: Hook[] = [];
	for (let i = 0; i < endpoints; i++) {
		const url = `https://receiver.example/hooks/${i}`;
		const created = await callJson<{ id: string; secret: string }>("/api/webhooks/endpoints", {
			token: account.token,
			body: { url, events: ["sms.*"] },
		});
		expect(created.status).toBe(201);
		hooks.push({ ...created.body, url });
	}
	const made = Array.from({ length: events }, (_, i) => newEvent("sms.sent", { sms_id: `sms_${i}` }));
	await env.DB.batch(eventStatements(env.DB, account.id, made));
	const { results } = await env.DB.prepare(
		"SELECT id, event_id, endpoint_id FROM webhook_deliveries WHERE account_id = ? ORDER BY id",
	)
		.bind(account.id)
		.all<Delivery>();
	expect(results).toHaveLength(endpoints * events);
	return { account, hooks, deliveries: results };
}

interface Received {
	url: string;
	headers: Record<string, string>;
	body: string;
}

/** Plays the receivers: `answer` picks each request's response (or throws, as a failed connection does). */
function receivers(answer: (request: Request) => Response | Promise<Response> = () => new Response(null, { status: 204 })) {
	const received: Received[] = [];
	vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
		const request = new Request(input, init);
		received.push({ url: request.url, headers: Object.fromEntries(request.headers), body: await request.clone().text() });
		return answer(request);
	});
	return received;
}

/** The deliveries' messages through the Worker's consumer, one batch: which were acked and which retried. */
async function consume(ids: string[]) {
	const messages = ids.map((id, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body: { delivery_id: id } }));
	const batch = createMessageBatch<DeliveryMessage>("callgate-webhooks", messages);
	const ctx = createExecutionContext();
	await worker.queue(batch, env, ctx);
	const result = await getQueueResult(batch, ctx);
	const idOf = (msgId: string) => messages.find((m) => m.id === msgId)?.body.delivery_id;
	return {
		acked: result.explicitAcks.map(idOf),
		retried: result.retryMessages.map((m) => idOf(m.msgId)),
	};
}

/** D1 round trips while `run` runs: batches, and statements run alone, counted on the prototypes the Worker's bindings share. */
async function countD1<T>(run: () => Promise<T>) {
	type Method = (...args: unknown[]) => Promise<unknown>;
	const databasePrototype = Object.getPrototypeOf(env.DB) as { batch: Method };
	const statementPrototype = Object.getPrototypeOf(env.DB.prepare("SELECT 1")) as Record<string, Method>;
	const counts = { batches: 0, statementsInBatches: 0, single: 0 };
	const originalBatch = databasePrototype.batch;
	const spies = [
		vi.spyOn(databasePrototype, "batch").mockImplementation(function (this: unknown, ...args: unknown[]) {
			counts.batches++;
			counts.statementsInBatches += (args[0] as unknown[]).length;
			return originalBatch.apply(this, args);
		}),
		...["run", "first", "all", "raw"].map((name) => {
			const original = statementPrototype[name] as Method;
			return vi.spyOn(statementPrototype, name).mockImplementation(function (this: unknown, ...args: unknown[]) {
				counts.single++;
				return original.apply(this, args);
			});
		}),
	];
	try {
		return { result: await run(), counts };
	} finally {
		for (const spy of spies) spy.mockRestore();
	}
}

const stateOf = (id: string) =>
	env.DB.prepare("SELECT status, attempts, lease_until FROM webhook_deliveries WHERE id = ?")
		.bind(id)
		.first<{ status: string; attempts: number; lease_until: string | null }>();

/** Once the lease of an attempt that failed midway has run out. */
const afterLease = () => Date.now() + LEASE_MS + 1_000;

describe("a batch of webhook deliveries", () => {
	it("costs two D1 round trips and one key import per endpoint; every POST signed with its endpoint's secret, each delivery acked and recorded once", async () => {
		const { hooks, deliveries } = await pendingDeliveries(4, 5);
		const received = receivers();
		const imports = vi.spyOn(crypto.subtle, "importKey");
		const { result, counts } = await countD1(() => consume(deliveries.map((d) => d.id)));
		expect(result.retried).toEqual([]);
		expect(result.acked.sort()).toEqual(deliveries.map((d) => d.id).sort());
		// The claim with its read, then every result: one transaction each.
		expect(counts).toMatchObject({ batches: 2, single: 0 });
		expect(counts.statementsInBatches).toBe(2 + 3 * deliveries.length);
		const hmacImports = imports.mock.calls.filter(([, , algorithm]) => (algorithm as { name?: string }).name === "HMAC");
		expect(hmacImports).toHaveLength(hooks.length);

		expect(received).toHaveLength(deliveries.length);
		for (const request of received) {
			const hook = hooks.find((h) => h.url === request.url);
			if (!hook) throw new Error(`unexpected POST to ${request.url}`);
			expect(() => new Webhook(hook.secret).verify(request.body, request.headers)).not.toThrow();
		}
		const delivered = deliveries.map((d) => `${d.endpoint_id}/${d.event_id}`).sort();
		const seen = received.map((r) => `${hooks.find((h) => h.url === r.url)?.id}/${r.headers["webhook-id"]}`).sort();
		expect(seen).toEqual(delivered);
		for (const delivery of deliveries) {
			expect(await stateOf(delivery.id)).toEqual({ status: "delivered", attempts: 1, lease_until: null });
			expect(await countRows("webhook_attempts", "delivery_id = ?", delivery.id)).toBe(1);
		}

		// The keys stay imported for the next batch to the same endpoints.
		imports.mockClear();
		await env.DB.prepare("UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ? WHERE id = ?")
			.bind(new Date(0).toISOString(), deliveries[0]?.id)
			.run();
		await consume([deliveries[0]?.id ?? ""]);
		expect(imports.mock.calls.filter(([, , algorithm]) => (algorithm as { name?: string }).name === "HMAC")).toHaveLength(0);
	});

	it("one receiver failing, one unreachable and one endpoint disabled hold back none of the others, and none is sent twice", async () => {
		const { hooks, deliveries } = await pendingDeliveries(4, 3);
		const [ok, failing, unreachable, disabled] = hooks;
		await env.DB.prepare("UPDATE webhook_endpoints SET enabled = 0 WHERE id = ?").bind(disabled?.id).run();
		const received = receivers((request) => {
			if (request.url === unreachable?.url) throw new TypeError("connect ECONNREFUSED");
			return new Response(null, { status: request.url === failing?.url ? 500 : 200 });
		});
		const result = await consume(deliveries.map((d) => d.id));
		const of = (hook: Hook | undefined) => deliveries.filter((d) => d.endpoint_id === hook?.id).map((d) => d.id);
		expect(result.acked.sort()).toEqual([...of(ok), ...of(disabled)].sort());
		expect(result.retried.sort()).toEqual([...of(failing), ...of(unreachable)].sort());
		expect(received).toHaveLength(9);
		for (const id of of(ok)) expect(await stateOf(id)).toMatchObject({ status: "delivered", attempts: 1 });
		for (const id of [...of(failing), ...of(unreachable)]) {
			expect(await stateOf(id)).toEqual({ status: "pending", attempts: 1, lease_until: null });
		}
		for (const id of of(disabled)) expect(await stateOf(id)).toMatchObject({ status: "skipped", attempts: 0 });
		const endpoint = (hook: Hook | undefined) =>
			env.DB.prepare("SELECT failing_since, last_success_at FROM webhook_endpoints WHERE id = ?")
				.bind(hook?.id)
				.first<{ failing_since: string | null; last_success_at: string | null }>();
		expect(await endpoint(ok)).toMatchObject({ failing_since: null, last_success_at: expect.any(String) });
		expect(await endpoint(failing)).toMatchObject({ failing_since: expect.any(String), last_success_at: null });
	});

	it.each<FaultMode>(["throw", "lose-answer"])(
		"the batch's write fails (%s): each delivery's own write records it, all acked, nothing recorded or sent twice",
		async (mode) => {
			const { deliveries } = await pendingDeliveries(2, 3);
			const received = receivers();
			const fault = failD1(RESULT_WRITE, { mode, times: 1 });
			const result = await consume(deliveries.map((d) => d.id));
			expect(fault.failed).toBe(1);
			expect(result).toEqual({ acked: expect.any(Array), retried: [] });
			expect(result.acked).toHaveLength(deliveries.length);
			expect(received).toHaveLength(deliveries.length);
			for (const delivery of deliveries) {
				expect(await stateOf(delivery.id)).toEqual({ status: "delivered", attempts: 1, lease_until: null });
				expect(await countRows("webhook_attempts", "delivery_id = ?", delivery.id)).toBe(1);
			}
		},
	);

	it("the batch's write and one delivery's own write fail: that one comes back under the same webhook-id after its lease, the others are not sent again", async () => {
		const { deliveries } = await pendingDeliveries(2, 3);
		const received = receivers();
		failD1(RESULT_WRITE, { times: 2 });
		const result = await consume(deliveries.map((d) => d.id));
		expect(result.retried).toHaveLength(1);
		expect(result.acked).toHaveLength(deliveries.length - 1);
		const [unrecorded] = result.retried;
		// Still leased by the attempt that could not record it: no copy attempts it before the lease ends.
		expect(await stateOf(unrecorded ?? "")).toMatchObject({ status: "sending", attempts: 0 });
		restoreFaults();
		expect((await consume(deliveries.map((d) => d.id))).retried).toEqual([unrecorded]);
		expect(received).toHaveLength(deliveries.length);

		const verdicts = await attemptDeliveries(
			env,
			deliveries.map((d) => d.id),
			afterLease(),
		);
		expect([...verdicts.values()].every((verdict) => verdict.done)).toBe(true);
		expect(received).toHaveLength(deliveries.length + 1);
		const again = received.at(-1);
		expect(again?.headers["webhook-id"]).toBe(deliveries.find((d) => d.id === unrecorded)?.event_id);
		for (const delivery of deliveries) {
			expect(await stateOf(delivery.id)).toMatchObject({ status: "delivered", attempts: 1 });
			expect(await countRows("webhook_attempts", "delivery_id = ?", delivery.id)).toBe(1);
		}
	});

	it("copies of one message in a batch: one POST, every copy acked", async () => {
		const { deliveries } = await pendingDeliveries(1, 1);
		const received = receivers();
		const id = deliveries[0]?.id ?? "";
		const result = await consume([id, id, id]);
		expect(result).toEqual({ acked: [id, id, id], retried: [] });
		expect(received).toHaveLength(1);
	});

	it(`keeps at most ${PARALLEL_ATTEMPTS} POSTs in flight`, async () => {
		const { deliveries } = await pendingDeliveries(3, 5);
		let inFlight = 0;
		let most = 0;
		const received = receivers(async () => {
			most = Math.max(most, ++inFlight);
			await new Promise((resolve) => setTimeout(resolve, 5));
			inFlight--;
			return new Response(null, { status: 204 });
		});
		const result = await consume(deliveries.map((d) => d.id));
		expect(result.acked).toHaveLength(deliveries.length);
		expect(received).toHaveLength(deliveries.length);
		expect(most).toBe(PARALLEL_ATTEMPTS);
	});

	it("a batch slower than its lease allows gives back, untried, what it could not start in time", async () => {
		const { deliveries } = await pendingDeliveries(1, PARALLEL_ATTEMPTS + 2);
		// Each POST takes longer than the time left to start one: the first lanes' attempts run, later ones would outlive the lease.
		let skew = 0;
		const realNow = Date.now.bind(Date);
		vi.spyOn(Date, "now").mockImplementation(() => realNow() + skew);
		const received = receivers(() => {
			skew += START_WITHIN_MS + 1_000;
			return new Response(null, { status: 204 });
		});
		const result = await consume(deliveries.map((d) => d.id));
		expect(received).toHaveLength(PARALLEL_ATTEMPTS);
		expect(result.acked).toHaveLength(PARALLEL_ATTEMPTS);
		expect(result.retried).toHaveLength(2);
		for (const id of result.retried) {
			// Given back: due at once, its attempts unchanged, no lease for a copy to wait out.
			expect(await stateOf(id ?? "")).toEqual({ status: "pending", attempts: 0, lease_until: null });
			expect(await countRows("webhook_attempts", "delivery_id = ?", id)).toBe(0);
		}
		vi.mocked(Date.now).mockRestore();
		const rest = await consume(result.retried.map((id) => id ?? ""));
		expect(rest.acked).toHaveLength(2);
		expect(new Set(received.map((r) => r.headers["webhook-id"])).size).toBe(deliveries.length);
	});

	it("a rotated secret signs the next attempt at once, though the old key was cached", async () => {
		const { account, hooks, deliveries } = await pendingDeliveries(1, 2);
		const [hook] = hooks;
		const [first, second] = deliveries;
		const received = receivers();
		await consume([first?.id ?? ""]);
		const got = await callJson(`/api/webhooks/endpoints/${hook?.id}`, { token: account.token });
		const rotated = await callJson<{ secret: string }>(`/api/webhooks/endpoints/${hook?.id}/rotate-secret`, {
			method: "POST",
			token: account.token,
			headers: { "If-Match": got.response.headers.get("ETag") ?? "" },
		});
		expect(rotated.status).toBe(200);
		await consume([second?.id ?? ""]);
		const [before, after] = received;
		expect(() => new Webhook(hook?.secret ?? "").verify(before?.body ?? "", before?.headers ?? {})).not.toThrow();
		expect(() => new Webhook(rotated.body.secret).verify(after?.body ?? "", after?.headers ?? {})).not.toThrow();
		expect(() => new Webhook(hook?.secret ?? "").verify(after?.body ?? "", after?.headers ?? {})).toThrow();
	});
});
