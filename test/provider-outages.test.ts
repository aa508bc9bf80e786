import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import type { DialResult, OutboundCall } from "../workers/dialer/dialer";
import { createCampaign, dialerCallback, pacerOf, phones, runCron } from "./campaign-helpers";
import { callJson, countRows, pbxAccount } from "./helpers";
import { failD1, failMethod, restoreFaults } from "./support/faults";

const MONDAY_NOON_NY = Date.parse("2030-03-04T17:00:00Z");

afterEach(() => restoreFaults());

/**
 * A provider the test controls: down (transient refusals, optionally with Retry-After) or up;
 * it dedupes by call id, as the dialer contract asks, and remembers every request.
 */
function provider(clock: { now: number }) {
	const state = {
		down: false,
		retryAfterMs: undefined as number | undefined,
		requests: [] as { callId: string; to: string; at: number }[],
		accepted: new Map<string, OutboundCall>(),
	};
	const place = async (call: OutboundCall): Promise<DialResult> => {
		state.requests.push({ callId: call.callId, to: call.to, at: clock.now });
		if (state.down) return { kind: "transient", reason: "HTTP 503: maintenance", retryAfterMs: state.retryAfterMs };
		state.accepted.set(call.callId, call);
		return { kind: "accepted" };
	};
	return { state, place };
}

async function campaignWith(overrides: Record<string, unknown> = {}) {
	const account = await pbxAccount();
	const campaign = await createCampaign(account, { contacts: phones(10), max_concurrent_calls: 3, ...overrides });
	const clock = { now: MONDAY_NOON_NY };
	const dialer = provider(clock);
	const pacer = pacerOf(campaign.id);
	const inject = () =>
		runInDurableObject(pacer, (object: CampaignPacer) => {
			object.clock = () => clock.now;
			object.random = () => 0.5;
			object.dialer = { place: dialer.place };
		});
	await inject();
	return { account, campaign, clock, dialer, pacer, inject };
}

const eventsOf = async (accountId: string, type: string) => countRows("events", "account_id = ? AND type = ?", accountId, type);

const d1Calls = (campaignId: string) =>
	env.DB.prepare(
		"SELECT id, contact_id, status, outcome, ended_at, pacer_closed_at FROM calls WHERE campaign_id = ? ORDER BY created_at, id",
	)
		.bind(campaignId)
		.all<{
			id: string;
			contact_id: string;
			status: string;
			outcome: string | null;
			ended_at: string | null;
			pacer_closed_at: string | null;
		}>()
		.then((result) => result.results);

async function endOpenCalls(pacer: ReturnType<typeof pacerOf>, campaignId: string) {
	for (const open of await pacer.openCalls()) await pacer.callEnded(campaignId, open.id, "completed");
}

describe("provider outages", () => {
	it("an outage burns nothing: contacts wait with attempts unused, one probe per growing backoff, then each contact is called once", async () => {
		const { account, campaign, clock, dialer, pacer } = await campaignWith({ max_calls_per_day: 10 });
		dialer.state.down = true;
		await pacer.wake(campaign.id);

		// The first round found the provider down: three refusals, nothing counted, nothing done.
		const firstRefused = dialer.state.requests.map((request) => request.callId);
		expect(firstRefused).toHaveLength(3);
		let view = await pacer.view(campaign.id);
		expect(view.status).toBe("active");
		expect(view.in_flight).toBe(0);
		expect(view.calls_today).toBe(0);
		expect(view.contacts).toEqual({ total: 10, pending: 10, in_flight: 0, done: 0, skipped: 0 });
		expect(view.provider).toEqual({
			state: "unavailable",
			since: new Date(MONDAY_NOON_NY).toISOString(),
			next_try_at: new Date(MONDAY_NOON_NY + 1000).toISOString(),
			last_error: "HTTP 503: maintenance",
		});
		// D1 knows the calls and that they wait; nothing is reported as completed.
		expect((await d1Calls(campaign.id)).map((row) => row.status)).toEqual(["queued", "queued", "queued"]);
		expect(await eventsOf(account.id, "call.completed")).toBe(0);
		expect(await eventsOf(account.id, "call.started")).toBe(0);

		// While it stays down: one probe per step, each step twice as long (jitter pinned to the middle).
		const probes: number[] = [];
		for (let step = 0; step < 6; step++) {
			const nextTry = Date.parse((await pacer.view(campaign.id)).provider.next_try_at ?? "");
			clock.now = nextTry - 1;
			await runDurableObjectAlarm(pacer);
			const before = dialer.state.requests.length;
			clock.now = nextTry;
			await runDurableObjectAlarm(pacer);
			expect(dialer.state.requests.length - before, `probes at step ${step}`).toBe(1);
			probes.push(nextTry);
		}
		const gaps = probes.slice(1).map((at, i) => at - (probes[i] ?? 0));
		expect(gaps).toEqual([2000, 4000, 8000, 16_000, 32_000]);

		// The provider's Retry-After is honoured, also beyond the 5-minute backoff cap.
		dialer.state.retryAfterMs = 600_000;
		clock.now = Date.parse((await pacer.view(campaign.id)).provider.next_try_at ?? "");
		await runDurableObjectAlarm(pacer);
		view = await pacer.view(campaign.id);
		expect(Date.parse(view.provider.next_try_at ?? "") - clock.now).toBe(600_000);
		expect(view.status).toBe("active");
		expect(view.calls_today).toBe(0);
		expect(await eventsOf(account.id, "campaign.provider_unavailable")).toBe(1);

		// Back up: the probe is accepted, every slot refills, and the campaign runs to the end.
		dialer.state.down = false;
		clock.now = Date.parse(view.provider.next_try_at ?? "");
		await runDurableObjectAlarm(pacer);
		view = await pacer.view(campaign.id);
		expect(view.provider.state).toBe("available");
		expect(view.in_flight).toBe(3);
		for (let step = 0; step < 20 && view.status !== "completed"; step++) {
			clock.now += 5_000;
			await endOpenCalls(pacer, campaign.id);
			view = await pacer.view(campaign.id);
		}
		expect(view.status).toBe("completed");
		expect(await eventsOf(account.id, "campaign.provider_recovered")).toBe(1);

		// Each contact was called exactly once, and the daily cap (10) was not spent on refusals.
		const accepted = [...dialer.state.accepted.values()];
		expect(accepted).toHaveLength(10);
		expect(new Set(accepted.map((c) => c.to)).size).toBe(10);
		const log = await pacer.callLog();
		expect(log).toHaveLength(10);
		expect(log.every((c) => c.attempt === 1)).toBe(true);
		// A refused attempt kept its call id, the provider's dedupe key.
		for (const callId of firstRefused) expect(dialer.state.accepted.has(callId)).toBe(true);
		const rows = await d1Calls(campaign.id);
		expect(rows).toHaveLength(10);
		expect(rows.every((row) => row.status === "completed" && row.ended_at !== null)).toBe(true);
	});

	it("a thrown dial (network error) is transient; a permanent refusal fails only that attempt, with its reason", async () => {
		const { campaign, clock, pacer, inject } = await campaignWith({ contacts: phones(2), max_concurrent_calls: 2 });
		const refusals: DialResult[] = [{ kind: "permanent", reason: "HTTP 400: Invalid number" }];
		await runInDurableObject(pacer, (object: CampaignPacer) => {
			object.dialer = {
				place: async () => {
					const next = refusals.shift();
					if (next) return next;
					throw new TypeError("network connection lost");
				},
			};
		});
		await pacer.wake(campaign.id);
		let view = await pacer.view(campaign.id);
		expect(view.contacts.done).toBe(1);
		expect(view.provider.state).toBe("unavailable");
		expect(view.provider.last_error).toBe("The provider could not be reached.");
		const rows = await d1Calls(campaign.id);
		expect(rows.map((row) => [row.status, row.outcome]).sort()).toEqual([
			["failed", "failed"],
			["queued", null],
		]);
		await inject();
		clock.now += 1000;
		await runDurableObjectAlarm(pacer);
		await endOpenCalls(pacer, campaign.id);
		view = await pacer.view(campaign.id);
		expect(view.status).toBe("completed");
		expect(view.provider.state).toBe("available");
	});
});

describe("the pacer and D1", () => {
	it("never dials a call D1 has not recorded: a failed record batch holds the dial until the alarm's retry succeeds", async () => {
		const { campaign, clock, dialer, pacer } = await campaignWith();
		const fault = failD1("INSERT INTO calls");
		await pacer.wake(campaign.id);
		expect(fault.failed).toBeGreaterThan(0);
		expect(dialer.state.requests).toHaveLength(0);
		expect(await pacer.unrecorded()).toMatchObject({ rows: 6 });
		expect(await countRows("calls", "campaign_id = ?", campaign.id)).toBe(0);
		// The slots are reserved meanwhile: the caps hold across the outage of D1.
		expect((await pacer.view(campaign.id)).in_flight).toBe(3);

		fault.restore();
		clock.now += 1000;
		await runDurableObjectAlarm(pacer);
		expect(dialer.state.requests).toHaveLength(3);
		expect(await pacer.unrecorded()).toEqual({ rows: 0, events: 0 });
		expect((await d1Calls(campaign.id)).map((row) => row.status)).toEqual(["dialing", "dialing", "dialing"]);
	});

	it("a record batch that committed but lost its answer is written again, harmlessly", async () => {
		const { account, campaign, clock, dialer, pacer } = await campaignWith();
		failD1("INSERT INTO calls", { mode: "lose-answer", times: 1 });
		await pacer.wake(campaign.id);
		expect(dialer.state.requests).toHaveLength(0);
		expect(await countRows("calls", "campaign_id = ?", campaign.id)).toBe(3);
		clock.now += 1000;
		await runDurableObjectAlarm(pacer);
		expect(dialer.state.requests).toHaveLength(3);
		expect(await countRows("calls", "campaign_id = ?", campaign.id)).toBe(3);
		expect(await eventsOf(account.id, "campaign.activated")).toBe(1);
	});

	it("a dial whose answer was lost with the object is asked again with the same call id", async () => {
		const { campaign, clock, dialer, pacer, inject } = await campaignWith({ contacts: phones(3) });
		await pacer.wake(campaign.id);
		const asked = dialer.state.requests.map((request) => request.callId);
		expect(asked).toHaveLength(3);
		// As stored by an object that died after recording the calls and sending their dial requests,
		// before it heard the answers: the calls are `dialing`, and no instance has a request out.
		await runInDurableObject(pacer, (object: CampaignPacer) => {
			(object as unknown as { ctx: DurableObjectState }).ctx.storage.sql.exec("UPDATE calls SET stage = 'dialing'");
		});
		await evictDurableObject(pacer);
		await inject();
		clock.now += 1000;
		await runDurableObjectAlarm(pacer);
		// Asked again with the same ids; the provider, deduping by call id, still has three calls.
		expect(
			dialer.state.requests
				.map((request) => request.callId)
				.slice(3)
				.sort(),
		).toEqual([...asked].sort());
		expect(dialer.state.accepted.size).toBe(3);
		expect((await pacer.view(campaign.id)).in_flight).toBe(3);
		expect(await pacer.callLog()).toHaveLength(3);
	});

	it("a call the pacer closed while D1 was failing is written when D1 is back (no call left open)", async () => {
		const { account, campaign, clock, pacer } = await campaignWith({ contacts: phones(1), max_concurrent_calls: 1 });
		await pacer.wake(campaign.id);
		const fault = failD1("INSERT INTO calls");
		clock.now += 900_000;
		await runDurableObjectAlarm(pacer);
		expect((await pacer.view(campaign.id)).status).toBe("completed");
		expect((await d1Calls(campaign.id))[0]?.status).toBe("dialing");
		fault.restore();
		clock.now += 2000;
		await runDurableObjectAlarm(pacer);
		const [row] = await d1Calls(campaign.id);
		expect(row).toMatchObject({ status: "timeout", outcome: "timeout" });
		expect(row?.pacer_closed_at).not.toBeNull();
		expect(await eventsOf(account.id, "call.completed")).toBe(1);
		const campaignRow = await env.DB.prepare("SELECT status FROM autocall_campaigns WHERE id = ?")
			.bind(campaign.id)
			.first<{ status: string }>();
		expect(campaignRow?.status).toBe("completed");
	});

	it("a final outcome whose hand-over to the pacer failed reaches it through the minute cron", async () => {
		const { campaign, dialer, pacer } = await campaignWith({ contacts: phones(2), max_concurrent_calls: 1 });
		await pacer.wake(campaign.id);
		const [first] = [...dialer.state.accepted.keys()];
		const prototype = await runInDurableObject(pacer, (object: CampaignPacer) => Object.getPrototypeOf(object) as CampaignPacer);
		failMethod(prototype, "callEnded");
		const callback = await dialerCallback({
			event_id: `e-${crypto.randomUUID()}`,
			call_id: first,
			status: "completed",
			occurred_at: new Date().toISOString(),
			duration_seconds: 30,
		});
		expect(callback.status).toBe(500);
		restoreFaults();
		expect((await pacer.openCalls()).map((open) => open.id)).toEqual([first]);
		// The provider gave up redelivering: the cron finds the call final in D1, unacknowledged by the pacer.
		await runCron(Date.now() + 60_000);
		const open = await pacer.openCalls();
		expect(open.map((c) => c.id)).not.toContain(first);
		expect(dialer.state.accepted.size).toBe(2);
		const rows = await d1Calls(campaign.id);
		expect(rows.find((row) => row.id === first)?.pacer_closed_at).not.toBeNull();
	});

	it("a PATCH whose hand-over to the pacer failed is answered from D1 and applied by the cron sweep", async () => {
		const { account, campaign, dialer, pacer } = await campaignWith({ contacts: phones(6), max_concurrent_calls: 1 });
		await pacer.wake(campaign.id);
		expect(dialer.state.accepted.size).toBe(1);
		const prototype = await runInDurableObject(pacer, (object: CampaignPacer) => Object.getPrototypeOf(object) as CampaignPacer);
		failMethod(prototype, "configure");
		const patched = await callJson<{ max_concurrent_calls: number; version: number; live?: unknown }>(
			`/api/autocall/campaigns/${campaign.id}`,
			{ method: "PATCH", token: account.token, body: { max_concurrent_calls: 4 } },
		);
		expect(patched.status).toBe(200);
		expect(patched.body.max_concurrent_calls).toBe(4);
		expect(patched.body.live).toBeUndefined();
		expect(dialer.state.accepted.size).toBe(1);
		restoreFaults();
		await runCron(Date.now());
		expect(dialer.state.accepted.size).toBe(4);
		const row = await env.DB.prepare("SELECT version, pacer_version FROM autocall_campaigns WHERE id = ?")
			.bind(campaign.id)
			.first<{ version: number; pacer_version: number }>();
		expect(row?.pacer_version).toBe(row?.version);
	});
});
