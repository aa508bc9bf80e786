import {
	createExecutionContext,
	createScheduledController,
	evictDurableObject,
	runDurableObjectAlarm,
	runInDurableObject,
	waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { type CallDispatcher, callDispatcherOf } from "../durable-objects/call-dispatcher";
import { type IdempotencyStore, idempotencyStoreName } from "../durable-objects/idempotency-store";
import type { DialResult, OutboundCall } from "../workers/dialer/dialer";
import { applyProviderEvent } from "../workers/dialer/provider-events";
import worker from "../workers/index";
import { DAY } from "../workers/lib/time";
import { handOverQueuedCalls } from "../workers/pbx/dial-backstop";
import { callJson, countRows, pbxAccount } from "./helpers";
import { failD1, failMethod, restoreFaults } from "./support/faults";

afterEach(restoreFaults);

interface CallBody {
	id: string;
	status: string;
	failure_reason: string | null;
}

type DialRow = {
	call_id: string;
	state: string;
	failures: number;
	next_at: number;
	deadline_at: number;
	last_error: string | null;
	d1_step: string;
	d1_failures: number;
};

/** What the fake provider answers to the n-th dial (0-based); a thrown error is a dial that never got an answer. */
type Answer = (n: number, call: OutboundCall) => DialResult | Promise<DialResult>;

const accepted: DialResult = { kind: "accepted" };
const unavailable: DialResult = { kind: "transient", reason: "HTTP 503" };

/**
 * An account whose dispatcher runs on a test clock and a fake provider. The clock starts a
 * year ahead of real time, so alarms set on it never fire by themselves: each test runs them.
 * The call's age is measured by the API in real time, so the dial window is still 60 s.
 */
async function dispatcherFor(answer: Answer = () => accepted) {
	const account = await pbxAccount();
	const stub = callDispatcherOf(env, account.id);
	const clock = { now: Date.now() + 365 * DAY };
	const fake = { answer };
	const dials: { call: OutboundCall; at: number }[] = [];
	const inject = () =>
		runInDurableObject(stub, (dispatcher: CallDispatcher) => {
			dispatcher.clock = () => clock.now;
			dispatcher.random = () => 0.5;
			dispatcher.dialer = {
				place: async (call) => {
					dials.push({ call, at: clock.now });
					return fake.answer(dials.length - 1, call);
				},
			};
		});
	await inject();
	const click = (headers: Record<string, string> = {}) =>
		callJson<CallBody>("/api/pbx/calls/click-to-call", {
			token: account.token,
			body: { from_extension: "1001", to_phone: "0987654321" },
			headers,
		});
	const rows = () =>
		runInDurableObject(stub, (_: CallDispatcher, state) => state.storage.sql.exec<DialRow>("SELECT * FROM dials").toArray());
	const row = async (callId: string) => (await rows()).find((dial) => dial.call_id === callId);
	const stored = (callId: string) =>
		env.DB.prepare("SELECT status, outcome, failure_reason, ended_at FROM calls WHERE id = ?")
			.bind(callId)
			.first<{ status: string; outcome: string | null; failure_reason: string | null; ended_at: string | null }>();
	const alarm = () => runDurableObjectAlarm(stub);
	/** Moves the clock to the dial's next try and runs the alarm. */
	const nextTry = async (callId: string) => {
		const dial = await row(callId);
		if (dial) clock.now = Math.max(clock.now, dial.next_at);
		return alarm();
	};
	return { account, stub, clock, fake, dials, inject, click, rows, row, stored, alarm, nextTry };
}

const completedEvents = (callId: string) => countRows("events", "id = ?", `evt_call_completed_${callId.replaceAll("-", "")}`);

describe("click-to-call dials", () => {
	it("are handed over before the answer and placed by the alarm: accepted → dialing, once", async () => {
		const t = await dispatcherFor();
		const created = await t.click();
		expect(created.status).toBe(201);
		expect(created.body).toMatchObject({ status: "queued", failure_reason: null });
		// Stored, not dialled yet: the provider's latency is not on the request path.
		expect(await t.row(created.body.id)).toMatchObject({ state: "pending", failures: 0 });
		expect(t.dials).toHaveLength(0);

		expect(await t.alarm()).toBe(true);
		expect(t.dials.map((dial) => dial.call)).toEqual([
			{
				callId: created.body.id,
				accountId: t.account.id,
				campaignId: null,
				to: "+84987654321",
				callerId: null,
				agentId: null,
				agentLeg: null,
				machineDetection: false,
				firstAskedAt: null,
			},
		]);
		expect(await t.stored(created.body.id)).toMatchObject({ status: "dialing", outcome: null, failure_reason: null });
		expect(await t.row(created.body.id)).toMatchObject({ state: "placed", d1_step: "done" });

		// Remembered for a day (a repeated hand-over changes nothing), then purged by the same alarm.
		expect(
			await callDispatcherOf(env, t.account.id).enqueue({
				callId: created.body.id,
				accountId: t.account.id,
				to: "+84987654321",
				callerId: null,
				agentLeg: null,
				ageMs: 0,
			}),
		).toBe(false);
		await t.alarm();
		expect(t.dials).toHaveLength(1);
		t.clock.now += DAY;
		await t.alarm();
		expect(await t.rows()).toEqual([]);
		expect(await t.alarm()).toBe(false);
		expect(t.dials).toHaveLength(1);
	});

	it("never move a call backwards: a provider callback that got there first keeps its status", async () => {
		// The simulated provider reports `ringing` before its dial request even returns.
		const t = await dispatcherFor(async (_, call) => {
			await applyProviderEvent(env, {
				event_id: `t_${call.callId}_ringing`,
				call_id: call.callId,
				status: "ringing",
				occurred_at: new Date().toISOString(),
			});
			return accepted;
		});
		const created = await t.click();
		await t.alarm();
		expect((await t.stored(created.body.id))?.status).toBe("ringing");
	});

	it("a transient refusal or a thrown dial is retried with backoff, and placed once when the provider recovers", async () => {
		const t = await dispatcherFor((n) => {
			if (n === 0) return unavailable;
			if (n === 1) throw new Error("connection reset");
			return accepted;
		});
		const created = await t.click();
		const start = t.clock.now;
		await t.alarm();
		expect(await t.row(created.body.id)).toMatchObject({
			state: "pending",
			failures: 1,
			next_at: start + 1_000,
			last_error: "HTTP 503",
		});
		expect((await t.stored(created.body.id))?.status).toBe("queued");
		// Not before the backoff.
		await t.alarm();
		expect(t.dials).toHaveLength(1);

		await t.nextTry(created.body.id);
		expect(await t.row(created.body.id)).toMatchObject({
			failures: 2,
			next_at: start + 1_000 + 2_000,
			last_error: "The provider could not be reached.",
		});
		await t.nextTry(created.body.id);
		expect((await t.stored(created.body.id))?.status).toBe("dialing");
		expect(t.dials.map((dial) => dial.at - start)).toEqual([0, 1_000, 3_000]);
		// The same call id each time: the provider's idempotency key.
		expect(new Set(t.dials.map((dial) => dial.call.callId))).toEqual(new Set([created.body.id]));

		t.clock.now += 60_000;
		await t.alarm();
		expect(t.dials).toHaveLength(3);
		expect(await completedEvents(created.body.id)).toBe(0);
	});

	it("honours the provider's Retry-After", async () => {
		const t = await dispatcherFor((n) => (n === 0 ? { kind: "transient", reason: "HTTP 429", retryAfterMs: 20_000 } : accepted));
		const created = await t.click();
		const start = t.clock.now;
		await t.alarm();
		expect((await t.row(created.body.id))?.next_at).toBe(start + 20_000);
		t.clock.now = start + 19_999;
		await t.alarm();
		expect(t.dials).toHaveLength(1);
		t.clock.now = start + 20_000;
		await t.alarm();
		expect(t.dials).toHaveLength(2);
		expect((await t.stored(created.body.id))?.status).toBe("dialing");
	});

	it("a permanent refusal fails the call with the provider's reason and records call.completed", async () => {
		const t = await dispatcherFor(() => ({ kind: "permanent", reason: "HTTP 400: Invalid number" }));
		const created = await t.click();
		await t.alarm();
		expect(t.dials).toHaveLength(1);
		const shown = await callJson<CallBody & { outcome: string; ended_at: string | null }>(`/api/pbx/calls/${created.body.id}`, {
			token: t.account.token,
		});
		expect(shown.body).toMatchObject({ status: "failed", outcome: "failed", failure_reason: "HTTP 400: Invalid number" });
		expect(shown.body.ended_at).not.toBeNull();
		const event = await env.DB.prepare("SELECT type, payload FROM events WHERE id = ?")
			.bind(`evt_call_completed_${created.body.id.replaceAll("-", "")}`)
			.first<{ type: string; payload: string }>();
		expect(event?.type).toBe("call.completed");
		expect(JSON.parse(event?.payload ?? "{}").data).toEqual({
			call_id: created.body.id,
			campaign_id: null,
			to: "+84987654321",
			outcome: "failed",
			attempt: 1,
			duration_seconds: null,
			failure_reason: "HTTP 400: Invalid number",
		});
		await t.nextTry(created.body.id);
		expect(t.dials).toHaveLength(1);
		expect(await completedEvents(created.body.id)).toBe(1);
	});

	it("a provider that keeps refusing for the 60 s window fails the call with a clear reason", async () => {
		const t = await dispatcherFor(() => unavailable);
		const created = await t.click();
		const deadline = (await t.row(created.body.id))?.deadline_at ?? 0;
		const start = t.clock.now;
		expect(deadline - start).toBeGreaterThan(55_000);
		for (let i = 0; i < 20 && (await t.row(created.body.id))?.state === "pending"; i++) await t.nextTry(created.body.id);

		const tries = t.dials.map((dial) => dial.at - start);
		// 1 s doubling, then one last try at the window's end; nothing after it.
		expect(tries).toEqual([0, 1_000, 3_000, 7_000, 15_000, 31_000, deadline - start]);
		expect(await t.stored(created.body.id)).toMatchObject({
			status: "failed",
			outcome: "failed",
			failure_reason: "The provider did not accept the call within 60 s of the request (last: HTTP 503).",
		});
		expect(await completedEvents(created.body.id)).toBe(1);
		t.clock.now += 10 * 60_000;
		await t.alarm();
		expect(t.dials).toHaveLength(7);
	});

	for (const mode of ["throw", "lose-answer"] as const) {
		it(`a failed D1 update after an accepted dial (${mode}) is retried by the alarm; the dial is not repeated`, async () => {
			const t = await dispatcherFor();
			const created = await t.click();
			const fault = failD1("THEN 'dialing' ELSE status END", { mode, times: 2 });
			await t.alarm();
			expect(t.dials).toHaveLength(1);
			expect(await t.row(created.body.id)).toMatchObject({ state: "placed", d1_step: "write", d1_failures: 1 });
			await t.nextTry(created.body.id);
			expect(await t.row(created.body.id)).toMatchObject({ d1_step: "write", d1_failures: 2 });
			await t.nextTry(created.body.id);
			expect(fault.failed).toBe(2);
			expect(await t.row(created.body.id)).toMatchObject({ d1_step: "done", d1_failures: 0 });
			expect((await t.stored(created.body.id))?.status).toBe("dialing");
			expect(t.dials).toHaveLength(1);
		});

		it(`a failed D1 write of a refused call (${mode}) is retried: failed once, one event`, async () => {
			const t = await dispatcherFor(() => ({ kind: "permanent", reason: "HTTP 404: No such number" }));
			const created = await t.click();
			const fault = failD1("failure_reason = ?1", { mode, times: 1 });
			await t.alarm();
			expect(fault.failed).toBe(1);
			expect(await t.row(created.body.id)).toMatchObject({ state: "failed", d1_step: "write", d1_failures: 1 });
			await t.nextTry(created.body.id);
			expect(await t.row(created.body.id)).toMatchObject({ d1_step: "done" });
			expect(await t.stored(created.body.id)).toMatchObject({ status: "failed", failure_reason: "HTTP 404: No such number" });
			expect(await completedEvents(created.body.id)).toBe(1);
			expect(t.dials).toHaveLength(1);
		});
	}

	it("a hand-over that fails during the request still answers 201; the cron backstop hands the call over, dialled once", async () => {
		const t = await dispatcherFor();
		const prototype = await runInDurableObject(
			t.stub,
			(dispatcher: CallDispatcher) => Object.getPrototypeOf(dispatcher) as CallDispatcher,
		);
		const fault = failMethod(prototype, "enqueue", { times: 1 });
		const created = await t.click();
		expect(fault.failed).toBe(1);
		expect(created.status).toBe(201);
		expect(created.body.status).toBe("queued");
		expect(await t.rows()).toEqual([]);

		// Too fresh for the backstop: its request may still be handing it over.
		await handOverQueuedCalls(env, Date.now());
		expect(await t.rows()).toEqual([]);

		const run = async (at: number) => {
			const ctx = createExecutionContext();
			await worker.scheduled(createScheduledController({ scheduledTime: at, cron: "* * * * *" }), env, ctx);
			await waitOnExecutionContext(ctx);
		};
		await run(Date.now() + 11_000);
		// Handed over 11 s after creation: 49 s of the window are left.
		const dial = await t.row(created.body.id);
		expect(dial?.state).toBe("pending");
		expect((dial?.deadline_at ?? 0) - t.clock.now).toBeLessThanOrEqual(49_000);
		expect((dial?.deadline_at ?? 0) - t.clock.now).toBeGreaterThan(40_000);
		await t.alarm();
		expect((await t.stored(created.body.id))?.status).toBe("dialing");

		await run(Date.now() + 30_000);
		await t.alarm();
		expect(t.dials).toHaveLength(1);
	});

	it("a call the backstop hands over too late to ring fails with a clear reason instead of dialling", async () => {
		const t = await dispatcherFor();
		const prototype = await runInDurableObject(
			t.stub,
			(dispatcher: CallDispatcher) => Object.getPrototypeOf(dispatcher) as CallDispatcher,
		);
		failMethod(prototype, "enqueue", { times: 1 });
		const created = await t.click();
		await handOverQueuedCalls(env, Date.now() + 5 * 60_000);
		await t.alarm();
		expect(t.dials).toHaveLength(0);
		expect(await t.stored(created.body.id)).toMatchObject({
			status: "failed",
			failure_reason: "Not handed to the provider within 60 s of the request.",
		});
		expect(await completedEvents(created.body.id)).toBe(1);
	});

	it("a keyed retry after a lost response hands the same call over again: no second dial", async () => {
		const t = await dispatcherFor();
		const key = crypto.randomUUID();
		const record = env.IDEMPOTENCY.get(env.IDEMPOTENCY.idFromName(idempotencyStoreName(t.account.id, key)));
		const prototype = await runInDurableObject(record, (r: IdempotencyStore) => Object.getPrototypeOf(r) as IdempotencyStore);
		// The response is never cached, as when the Worker dies right after the call committed.
		failMethod(prototype, "complete", { times: 1 });
		await t.click({ "Idempotency-Key": key });
		await t.alarm();
		expect(t.dials).toHaveLength(1);

		// The lost attempt's lock lapses; the retry finds the committed call and hands it over again.
		await runInDurableObject(record, (r: IdempotencyStore) => {
			r.clock = () => Date.now() + 31_000;
		});
		const retry = await t.click({ "Idempotency-Key": key });
		expect(retry.status).toBe(201);
		expect(await countRows("calls", "account_id = ?", t.account.id)).toBe(1);
		expect(retry.body.id).toBe(t.dials[0]?.call.callId);
		await t.alarm();
		expect(t.dials).toHaveLength(1);
		expect((await t.stored(retry.body.id))?.status).toBe("dialing");
	});

	it("an eviction between the hand-over and the alarm loses nothing: dialled once", async () => {
		const t = await dispatcherFor((n) => (n === 0 ? unavailable : accepted));
		const created = await t.click();
		await evictDurableObject(t.stub);
		await t.inject();
		expect(await t.alarm()).toBe(true);
		expect(t.dials).toHaveLength(1);
		// And between a refusal and its retry.
		await evictDurableObject(t.stub);
		await t.inject();
		await t.nextTry(created.body.id);
		expect((await t.stored(created.body.id))?.status).toBe("dialing");
		await t.nextTry(created.body.id);
		expect(t.dials.filter((dial) => dial.call.callId === created.body.id)).toHaveLength(2);
	});
});

describe("what a carrier learns and tells about a click-to-call dial", () => {
	it("the carrier's call id reaches D1 with the accepted dial", async () => {
		const t = await dispatcherFor(() => ({ kind: "accepted", providerCallId: "CA0123456789abcdef0123456789abcdef" }));
		const created = await t.click();
		await t.alarm();
		const row = await env.DB.prepare("SELECT status, provider_call_id FROM calls WHERE id = ?").bind(created.body.id).first();
		expect(row).toEqual({ status: "dialing", provider_call_id: "CA0123456789abcdef0123456789abcdef" });
	});

	it("an ask after one that got no answer carries when the first was made, so a carrier can look before dialling again", async () => {
		const t = await dispatcherFor((n) =>
			n === 0 ? { kind: "transient", reason: "The provider did not answer in time.", uncertain: true } : accepted,
		);
		const created = await t.click();
		await t.alarm();
		const firstAt = t.dials[0]?.at;
		await t.nextTry(created.body.id);
		expect(t.dials.map((dial) => dial.call.firstAskedAt)).toEqual([null, firstAt]);
	});
});
