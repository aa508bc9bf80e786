import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import { closeStaleCalls } from "../workers/autocall/sweep";
import { signProviderPayload } from "../workers/lib/signatures";
import { MINUTE } from "../workers/lib/time";
import { createCampaign, pacerOf, phones, takeOver } from "./campaign-helpers";
import { call, callJson, countRows, pbxAccount } from "./helpers";
import { failD1, failMethod, restoreFaults } from "./support/faults";

type Account = Awaited<ReturnType<typeof pbxAccount>>;

const MONDAY_NOON_NY = Date.parse("2030-03-04T17:00:00Z");
const GENERIC_500 = { message: "Internal server error." };
/** The step that applies a callback's effect: the call's or the message's update. */
const CALL_UPDATE = "UPDATE calls SET status = ?1";
const SMS_UPDATE = "UPDATE sms_messages SET status = ?1";

afterEach(() => restoreFaults());

async function signed<T = { result: string }>(path: string, body: unknown, secret: string) {
	const text = JSON.stringify(body);
	return callJson<T>(path, {
		method: "POST",
		rawBody: text,
		headers: { "Content-Type": "application/json", "X-Callgate-Signature": await signProviderPayload(secret, text) },
	});
}

const dialerCallback = <T = { result: string }>(body: unknown) =>
	signed<T>("/api/webhooks/dialer", body, env.DIALER_SECRET ?? "");
const smsReport = <T = { result: string }>(body: unknown) => signed<T>("/api/webhooks/sms", body, env.SMS_SECRET ?? "");

const callEvent = (callId: string, status: string, eventId = `${status}-${callId}`) => ({
	event_id: eventId,
	call_id: callId,
	status,
	occurred_at: new Date().toISOString(),
	...(status === "completed" ? { duration_seconds: 12 } : {}),
});

/** Two endpoints that want call events and one that does not. */
async function endpoints(account: Account) {
	for (const events of [["call.*"], ["*"], ["sms.*"]]) {
		const created = await callJson("/api/webhooks/endpoints", {
			token: account.token,
			body: { url: "https://receiver.example/hooks", events },
		});
		expect(created.status).toBe(201);
	}
}

/** A click-to-call call the dialer is working on, written as the click-to-call route leaves it. */
async function openCall(account: Account, createdAt = new Date().toISOString()) {
	const id = crypto.randomUUID();
	await env.DB.prepare(
		`INSERT INTO calls (id, account_id, kind, from_extension, to_phone, status, created_at, updated_at)
		 VALUES (?, ?, 'click_to_call', '1001', '+84987654321', 'dialing', ?, ?)`,
	)
		.bind(id, account.id, createdAt, createdAt)
		.run();
	return id;
}

async function callRow(id: string) {
	return env.DB.prepare("SELECT status, outcome, ended_at FROM calls WHERE id = ?")
		.bind(id)
		.first<{ status: string; outcome: string | null; ended_at: string | null }>();
}

async function completions(callId: string) {
	const { results } = await env.DB.prepare(
		"SELECT id, payload FROM events WHERE type = 'call.completed' AND json_extract(payload, '$.data.call_id') = ?",
	)
		.bind(callId)
		.all<{ id: string; payload: string }>();
	return results.map((row) => ({ id: row.id, outcome: (JSON.parse(row.payload) as { data: { outcome: string } }).data.outcome }));
}

const deliveriesOfEvent = (eventId: string) => countRows("webhook_deliveries", "event_id = ?", eventId);

/** A campaign one call at a time, its clock and dialer taken over: its first call is in flight. */
async function campaignCall() {
	const account = await pbxAccount();
	await endpoints(account);
	const campaign = await createCampaign(account, { contacts: phones(3), max_concurrent_calls: 1 });
	const { inject, dialled } = takeOver(campaign.id, { now: MONDAY_NOON_NY });
	await inject();
	await pacerOf(campaign.id).wake(campaign.id);
	const callId = dialled[0]?.callId ?? "";
	expect(await callRow(callId)).toMatchObject({ status: "dialing" });
	return { account, campaign, dialled, callId, pacer: pacerOf(campaign.id) };
}

async function inFlight(account: Account, campaignId: string) {
	const view = await callJson<{ live: { in_flight: number } }>(`/api/autocall/campaigns/${campaignId}`, { token: account.token });
	return view.body.live.in_flight;
}

describe("dialer callbacks: the event id commits with its effect", () => {
	it("the update fails: 500, nothing recorded; the redelivery applies it, once", async () => {
		const { account, campaign, dialled, callId, pacer } = await campaignCall();
		const final = callEvent(callId, "no_answer");
		const fault = failD1(CALL_UPDATE, { times: 1 });
		const failed = await dialerCallback(final);
		expect(fault.failed).toBe(1);
		expect(failed.status).toBe(500);
		expect(failed.body).toEqual(GENERIC_500);
		expect(await callRow(callId)).toMatchObject({ status: "dialing", ended_at: null });
		expect(await countRows("provider_events", "event_id = ?", final.event_id)).toBe(0);
		expect((await pacer.openCalls()).map((c) => c.id)).toEqual([callId]);

		const redelivered = await dialerCallback(final);
		expect(redelivered.body).toEqual({ result: "applied" });
		expect(await callRow(callId)).toMatchObject({ status: "no_answer", outcome: "no_answer" });
		const [completion, ...more] = await completions(callId);
		expect(more).toHaveLength(0);
		expect(completion?.outcome).toBe("no_answer");
		expect(await deliveriesOfEvent(completion?.id ?? "")).toBe(2);
		// The slot was freed and refilled with the next contact.
		expect((await pacer.openCalls()).map((c) => c.id)).not.toContain(callId);
		expect(dialled).toHaveLength(2);
		expect(await inFlight(account, campaign.id)).toBe(1);
	});

	it("the update commits but its answer is lost: 500; the redelivery is a duplicate that still frees the slot", async () => {
		const { dialled, callId, pacer } = await campaignCall();
		const final = callEvent(callId, "busy");
		failD1(CALL_UPDATE, { mode: "lose-answer", times: 1 });
		const failed = await dialerCallback(final);
		expect(failed.status).toBe(500);
		expect(failed.body).toEqual(GENERIC_500);
		// Applied, but the pacer was never told: the redelivery has to do that.
		expect(await callRow(callId)).toMatchObject({ status: "busy" });
		expect((await pacer.openCalls()).map((c) => c.id)).toEqual([callId]);

		expect((await dialerCallback(final)).body).toEqual({ result: "duplicate" });
		expect((await pacer.openCalls()).map((c) => c.id)).not.toContain(callId);
		expect(dialled).toHaveLength(2);
		const completion = await completions(callId);
		expect(completion.map((c) => c.outcome)).toEqual(["busy"]);
		expect(await deliveriesOfEvent(completion[0]?.id ?? "")).toBe(2);
		expect(await countRows("provider_events", "event_id = ?", final.event_id)).toBe(1);
	});

	it("the pacer is not told (callEnded fails): 500; the redelivery frees the slot, with no second event", async () => {
		const { account, campaign, dialled, callId, pacer } = await campaignCall();
		const prototype = await runInDurableObject(pacer, (object: CampaignPacer) => Object.getPrototypeOf(object) as CampaignPacer);
		const fault = failMethod(prototype, "callEnded", { times: 1 });
		const final = callEvent(callId, "completed");
		const failed = await dialerCallback(final);
		expect(fault.failed).toBe(1);
		expect(failed.status).toBe(500);
		expect(failed.body).toEqual(GENERIC_500);
		expect(await callRow(callId)).toMatchObject({ status: "completed" });
		expect(await inFlight(account, campaign.id)).toBe(1);
		expect(dialled).toHaveLength(1);

		expect((await dialerCallback(final)).body).toEqual({ result: "duplicate" });
		expect((await pacer.openCalls()).map((c) => c.id)).not.toContain(callId);
		expect(dialled).toHaveLength(2);
		expect((await pacer.callLog()).find((c) => c.id === callId)?.outcome).toBe("completed");
		expect((await completions(callId)).map((c) => c.outcome)).toEqual(["completed"]);
		// Further copies stay duplicates and change nothing.
		expect((await dialerCallback(final)).body).toEqual({ result: "duplicate" });
		expect(dialled).toHaveLength(2);
	});

	it("the pacer keeps failing: every redelivery answers 5xx until it is told", async () => {
		const { callId, pacer } = await campaignCall();
		const prototype = await runInDurableObject(pacer, (object: CampaignPacer) => Object.getPrototypeOf(object) as CampaignPacer);
		failMethod(prototype, "callEnded", { times: 2 });
		const final = callEvent(callId, "failed");
		expect((await dialerCallback(final)).status).toBe(500);
		expect((await dialerCallback(final)).status).toBe(500);
		expect((await dialerCallback(final)).body).toEqual({ result: "duplicate" });
		expect((await pacer.openCalls()).map((c) => c.id)).not.toContain(callId);
	});

	it("duplicates and out-of-order events: a final status first, then a late ringing is stale and moves nothing back", async () => {
		const account = await pbxAccount();
		await endpoints(account);
		const callId = await openCall(account);
		expect((await dialerCallback(callEvent(callId, "in_progress"))).body).toEqual({ result: "applied" });
		// Older than what the call has seen already.
		expect((await dialerCallback(callEvent(callId, "ringing"))).body).toEqual({ result: "stale" });
		const final = callEvent(callId, "completed");
		expect((await dialerCallback(final)).body).toEqual({ result: "applied" });
		expect((await dialerCallback(final)).body).toEqual({ result: "duplicate" });
		expect((await dialerCallback(callEvent(callId, "ringing", `late-ringing-${callId}`))).body).toEqual({ result: "stale" });
		expect((await dialerCallback(callEvent(callId, "in_progress", `late-progress-${callId}`))).body).toEqual({
			result: "stale",
		});
		expect(await callRow(callId)).toMatchObject({ status: "completed", outcome: "completed" });
		const completion = await completions(callId);
		expect(completion.map((c) => c.outcome)).toEqual(["completed"]);
		expect(await deliveriesOfEvent(completion[0]?.id ?? "")).toBe(2);
	});

	it("two different final events sent at once: exactly one outcome and one call.completed", async () => {
		const account = await pbxAccount();
		await endpoints(account);
		for (let round = 0; round < 5; round++) {
			const callId = await openCall(account);
			const finals = ["completed", "no_answer", "busy", "failed"].map((status) => callEvent(callId, status));
			const results = await Promise.all(finals.map((final) => dialerCallback(final).then((r) => r.body.result)));
			expect(results.filter((r) => r === "applied")).toHaveLength(1);
			expect(results.filter((r) => r === "stale")).toHaveLength(3);
			const row = await callRow(callId);
			const completion = await completions(callId);
			expect(completion.map((c) => c.outcome)).toEqual([row?.status]);
			expect(row?.outcome).toBe(row?.status);
			expect(await deliveriesOfEvent(completion[0]?.id ?? "")).toBe(2);
		}
	});

	it("a late completed after the call was closed as timeout is stale and writes no call.completed", async () => {
		const account = await pbxAccount();
		await endpoints(account);
		const callId = await openCall(account, new Date(Date.now() - 20 * MINUTE).toISOString());
		expect(await closeStaleCalls(env)).toBeGreaterThanOrEqual(1);
		expect((await dialerCallback(callEvent(callId, "completed"))).body).toEqual({ result: "stale" });
		expect(await callRow(callId)).toMatchObject({ status: "timeout", outcome: "timeout" });
		expect(await completions(callId)).toEqual([]);
	});

	it("a campaign call the pacer closed as timeout gets no call.completed from a late completed", async () => {
		const account = await pbxAccount();
		const campaign = await createCampaign(account, { contacts: phones(2), max_concurrent_calls: 1 });
		const clock = { now: MONDAY_NOON_NY };
		const { inject, dialled } = takeOver(campaign.id, clock);
		await inject();
		const pacer = pacerOf(campaign.id);
		await pacer.wake(campaign.id);
		const callId = dialled[0]?.callId ?? "";
		clock.now += 15 * MINUTE;
		await runDurableObjectAlarm(pacer);
		expect(await callRow(callId)).toMatchObject({ status: "timeout" });
		expect((await dialerCallback(callEvent(callId, "completed"))).body).toEqual({ result: "stale" });
		expect(await callRow(callId)).toMatchObject({ status: "timeout" });
		expect((await completions(callId)).filter((c) => c.outcome !== "timeout")).toEqual([]);
	});

	it("an event for an unknown call answers unknown-call and records nothing", async () => {
		const unknown = callEvent(crypto.randomUUID(), "completed");
		expect((await dialerCallback(unknown)).body).toEqual({ result: "unknown-call" });
		expect(await countRows("provider_events", "event_id = ?", unknown.event_id)).toBe(0);
	});
});

describe("SMS delivery reports: the event id commits with its effect", () => {
	async function sentSms() {
		const account = await pbxAccount();
		await endpoints(account);
		const id = crypto.randomUUID();
		const at = new Date().toISOString();
		// Written as the send route leaves it, without the simulated provider's own report racing the test's.
		await env.DB.prepare(
			`INSERT INTO sms_messages (id, account_id, to_phone, text, segments, status, created_at, updated_at, sent_at)
			 VALUES (?, ?, '+84987654321', 'Xin chào', 1, 'sent', ?, ?, ?)`,
		)
			.bind(id, account.id, at, at, at)
			.run();
		return { account, id };
	}

	const report = (messageId: string, status: "delivered" | "failed", eventId = `${status}-${messageId}`) => ({
		event_id: eventId,
		message_id: messageId,
		status,
		occurred_at: new Date().toISOString(),
	});

	const smsStatus = async (id: string) =>
		(await env.DB.prepare("SELECT status FROM sms_messages WHERE id = ?").bind(id).first<{ status: string }>())?.status;

	it("the update fails: 500, nothing recorded; the redelivery applies it, once", async () => {
		const { account, id } = await sentSms();
		const delivered = report(id, "delivered");
		failD1(SMS_UPDATE, { times: 1 });
		const failed = await smsReport(delivered);
		expect(failed.status).toBe(500);
		expect(failed.body).toEqual(GENERIC_500);
		expect(await smsStatus(id)).toBe("sent");
		expect(await countRows("provider_events", "event_id = ?", delivered.event_id)).toBe(0);

		expect((await smsReport(delivered)).body).toEqual({ result: "applied" });
		expect(await smsStatus(id)).toBe("delivered");
		expect(await countRows("events", "account_id = ? AND type = 'sms.delivered'", account.id)).toBe(1);
		// The "*" and "sms.*" endpoints.
		expect(await countRows("webhook_deliveries", "account_id = ?", account.id)).toBe(2);
	});

	it("the update commits but its answer is lost: 500; the redelivery is a duplicate, applied once", async () => {
		const { account, id } = await sentSms();
		const delivered = report(id, "delivered");
		failD1(SMS_UPDATE, { mode: "lose-answer", times: 1 });
		expect((await smsReport(delivered)).status).toBe(500);
		expect((await smsReport(delivered)).body).toEqual({ result: "duplicate" });
		expect(await smsStatus(id)).toBe("delivered");
		expect(await countRows("events", "account_id = ? AND type = 'sms.delivered'", account.id)).toBe(1);
		expect(await countRows("webhook_deliveries", "account_id = ?", account.id)).toBe(2);
	});

	it("event ids are unique per provider: a dialer event and an SMS report sharing one do not dedupe each other", async () => {
		const { account, id } = await sentSms();
		const callId = await openCall(account);
		const shared = `shared-${crypto.randomUUID()}`;
		expect((await dialerCallback(callEvent(callId, "completed", shared))).body.result).toBe("applied");
		expect((await smsReport(report(id, "delivered", shared))).body.result).toBe("applied");
		expect(await smsStatus(id)).toBe("delivered");
		expect((await callRow(callId))?.status).toBe("completed");
		expect((await smsReport(report(id, "delivered", shared))).body.result).toBe("duplicate");
	});

	it("duplicates and late reports: a final status is never overwritten, and a stale one causes no event", async () => {
		const { account, id } = await sentSms();
		const failed = report(id, "failed");
		expect((await smsReport(failed)).body).toEqual({ result: "applied" });
		expect((await smsReport(failed)).body).toEqual({ result: "duplicate" });
		expect((await smsReport(report(id, "delivered"))).body).toEqual({ result: "stale" });
		expect(await smsStatus(id)).toBe("failed");
		expect(await countRows("events", "account_id = ? AND type = 'sms.delivered'", account.id)).toBe(0);
		expect(await countRows("events", "account_id = ? AND type = 'sms.failed'", account.id)).toBe(1);
		const unknown = report(crypto.randomUUID(), "delivered");
		expect((await smsReport(unknown)).body).toEqual({ result: "unknown-message" });
		expect(await countRows("provider_events", "event_id = ?", unknown.event_id)).toBe(0);
	});
});

it("unsigned callbacks are refused before anything is read", async () => {
	const response = await call("/api/webhooks/dialer", { body: callEvent(crypto.randomUUID(), "completed") });
	expect(response.status).toBe(401);
});
