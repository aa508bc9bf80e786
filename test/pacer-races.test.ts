import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { isWindowOpen, localTime, parseClock } from "../durable-objects/campaign/schedule";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import type { DialResult, OutboundCall } from "../workers/dialer/dialer";
import { createCampaign, dialerCallback, pacerOf, phones, runCron } from "./campaign-helpers";
import { countRows, pbxAccount } from "./helpers";
import { failD1, restoreFaults } from "./support/faults";

/**
 * Races between the pacer's steps — reserving a call, recording it in D1, dialling it, the
 * provider's answer, callbacks and actions — each of which interleaves at every await.
 */

const restorers: (() => void)[] = [];
afterEach(() => {
	for (const restore of restorers.splice(0)) restore();
	restoreFaults();
});

const window = {
	timezone: "America/New_York",
	startMinute: parseClock("10:00"),
	endMinute: parseClock("17:00"),
	workingDays: [1, 2, 3, 4, 5],
	scheduledAt: Date.parse("2030-03-04T14:30:00Z"),
};

async function setup(contacts: number, maxPerDay = 120) {
	const account = await pbxAccount();
	const campaign = await createCampaign(account, {
		contacts: phones(contacts),
		max_concurrent_calls: 3,
		max_calls_per_day: maxPerDay,
	});
	const pacer = pacerOf(campaign.id);
	const clock = { now: 0 };
	const dials: { call: OutboundCall; at: number }[] = [];
	await runInDurableObject(pacer, (object: CampaignPacer) => {
		object.clock = () => clock.now;
		object.random = () => 0.5;
		object.dialer = {
			place: async (call) => {
				dials.push({ call, at: clock.now });
				return { kind: "accepted" };
			},
		};
	});
	return { campaign, pacer, clock, dials };
}

const callback = (callId: string, status: string) =>
	dialerCallback({ event_id: `e-${crypto.randomUUID()}`, call_id: callId, status, occurred_at: new Date().toISOString() });

/** Holds the pacer's record batch (the D1 write before any dial) for `ms`. */
function slowRecordBatch(ms: number) {
	const proto = Object.getPrototypeOf(env.DB) as { batch: (statements: { statement?: string }[]) => Promise<unknown> };
	const original = proto.batch;
	proto.batch = async function (this: unknown, statements: { statement?: string }[]) {
		if (statements.some((statement) => statement.statement?.includes("next_wake_at = ?4"))) {
			await new Promise((resolve) => setTimeout(resolve, ms));
		}
		return original.call(this, statements);
	};
	restorers.push(() => {
		proto.batch = original;
	});
}

describe("pause or cancel while the calls are being recorded", () => {
	for (const action of ["cancel", "pause"] as const) {
		it(`${action}: nothing is dialled after the action was accepted`, async () => {
			const account = await pbxAccount();
			const campaign = await createCampaign(account, { contacts: phones(3), max_concurrent_calls: 3 });
			const pacer = pacerOf(campaign.id);
			const dials: string[] = [];
			await runInDurableObject(pacer, (object: CampaignPacer) => {
				object.clock = () => Date.parse("2030-03-04T17:00:00Z");
				object.dialer = {
					place: async (call) => {
						dials.push(call.callId);
						return { kind: "accepted" };
					},
				};
			});
			slowRecordBatch(300);
			const waking = pacer.wake(campaign.id);
			await new Promise((resolve) => setTimeout(resolve, 100));
			const [, result] = await Promise.all([waking, pacer[action](campaign.id)]);
			expect(result.ok).toBe(true);
			expect(dials).toEqual([]);
			const view = await pacer.view(campaign.id);
			expect(view.in_flight).toBe(0);
			expect(view.calls_today).toBe(0);
			expect(view.contacts).toMatchObject({ pending: 3, in_flight: 0 });
			expect(await pacer.callLog()).toEqual([]);
		});
	}
});

describe("a dial request that timed out, although the provider took the call", () => {
	it("keeps its slot until it is asked again, so fresh contacts never push ringing calls over the cap", async () => {
		const account = await pbxAccount();
		const campaign = await createCampaign(account, { contacts: phones(6), max_concurrent_calls: 2 });
		const pacer = pacerOf(campaign.id);
		const clock = { now: Date.parse("2030-03-04T17:00:00Z") };
		const ringing = new Set<string>();
		let slow = true;
		await runInDurableObject(pacer, (object: CampaignPacer) => {
			object.clock = () => clock.now;
			object.random = () => 0.5;
			object.dialer = {
				place: async (outbound): Promise<DialResult> => {
					ringing.add(outbound.callId);
					// Taken, but the answer comes after the request's timeout: what the http dialer reports then.
					if (slow) return { kind: "transient", reason: "The provider did not answer in time.", uncertain: true };
					return { kind: "accepted" };
				},
			};
		});
		await pacer.wake(campaign.id);
		expect(ringing.size).toBe(2);
		const view = await pacer.view(campaign.id);
		// They may be ringing: they keep their slots and count against the day until the provider settles them.
		expect(view.in_flight).toBe(2);
		expect(view.calls_today).toBe(2);
		slow = false;
		for (let step = 0; step < 4; step++) {
			clock.now += 1_000;
			await runDurableObjectAlarm(pacer);
			expect(ringing.size, "calls the provider is ringing (max_concurrent_calls = 2)").toBeLessThanOrEqual(2);
		}
		expect((await pacer.view(campaign.id)).in_flight).toBe(2);
		// The two were asked again under their own ids: two calls, each placed once.
		expect((await pacer.callLog()).map((c) => c.id).sort()).toEqual([...ringing].sort());
	});
});

describe("a call reserved before D1 recorded it is checked again when it is dialled", () => {
	it("reserved at 16:59:59, recorded at 17:30 after the window closed: not dialled, back in the queue with its attempt unused", async () => {
		const { campaign, pacer, clock, dials } = await setup(3);
		// Monday 2030-03-04, 16:59:59 in New York (EST, UTC-5).
		clock.now = Date.parse("2030-03-04T21:59:59Z");
		expect(isWindowOpen(clock.now, window)).toBe(true);
		const fault = failD1("INSERT INTO calls");
		await pacer.wake(campaign.id);
		expect(dials).toHaveLength(0);
		expect((await pacer.view(campaign.id)).in_flight).toBe(3);

		// D1 recovers half an hour later, after the window closed.
		fault.restore();
		clock.now = Date.parse("2030-03-04T22:30:00Z");
		expect(isWindowOpen(clock.now, window)).toBe(false);
		await runDurableObjectAlarm(pacer);
		await pacer.wake(campaign.id);

		const outside = dials.filter((dial) => !isWindowOpen(dial.at, window));
		expect(
			outside.map((d) => new Date(d.at).toISOString()),
			"dials placed outside [10:00,17:00) local",
		).toEqual([]);
	});

	it("reserved on day 1, recorded on day 2: dialled under day 2's cap, not on top of it", async () => {
		const { campaign, pacer, clock, dials } = await setup(6, 3);
		clock.now = Date.parse("2030-03-04T21:59:00Z");
		const fault = failD1("INSERT INTO calls");
		await pacer.wake(campaign.id);
		expect(dials).toHaveLength(0);
		fault.restore();
		// Tuesday 10:00 local.
		clock.now = Date.parse("2030-03-05T15:00:00Z");
		await runDurableObjectAlarm(pacer);
		for (const open of await pacer.openCalls()) await pacer.callEnded(campaign.id, open.id, "completed");
		await pacer.wake(campaign.id);
		const perDay = new Map<string, number>();
		for (const dial of dials) {
			const day = localTime(dial.at, window.timezone).date;
			perDay.set(day, (perDay.get(day) ?? 0) + 1);
		}
		expect(Object.fromEntries(perDay), "provider dials per local day").toEqual({ "2030-03-05": 3 });
	});
});

describe("a final callback that outruns the dial's answer", () => {
	it("the call still gets its call.started, and the provider counts as up", async () => {
		const account = await pbxAccount();
		const campaign = await createCampaign(account, { contacts: phones(1), max_concurrent_calls: 1 });
		const pacer = pacerOf(campaign.id);
		const clock = { now: Date.parse("2030-03-04T17:00:00Z") };
		const asked: string[] = [];
		await runInDurableObject(pacer, (object: CampaignPacer) => {
			object.clock = () => clock.now;
			object.dialer = {
				// The provider takes the call, which fails at once; its callback arrives before the 202 does.
				place: async (outbound) => {
					asked.push(outbound.callId);
					await new Promise((resolve) => setTimeout(resolve, 400));
					return { kind: "accepted" };
				},
			};
		});
		const waking = pacer.wake(campaign.id);
		await new Promise((resolve) => setTimeout(resolve, 150));
		expect(asked).toHaveLength(1);
		const answer = await callback(asked[0] as string, "busy");
		expect(answer.status).toBe(200);
		await waking;
		await pacer.wake(campaign.id);

		expect(await countRows("events", "account_id = ? AND type = 'call.completed'", account.id)).toBe(1);
		expect(
			await countRows("events", "account_id = ? AND type = 'call.started'", account.id),
			"call.started for the accepted call",
		).toBe(1);
	});
});

describe("cancel while a dial request is out", () => {
	it("a transient refusal that comes back after the cancel closes the call as cancelled (nothing open in D1)", async () => {
		const account = await pbxAccount();
		const campaign = await createCampaign(account, { contacts: phones(2), max_concurrent_calls: 2 });
		const pacer = pacerOf(campaign.id);
		const clock = { now: Date.parse("2030-03-04T17:00:00Z") };
		let asked = 0;
		await runInDurableObject(pacer, (object: CampaignPacer) => {
			object.clock = () => clock.now;
			object.random = () => 0.5;
			object.dialer = {
				place: async () => {
					asked++;
					await new Promise((resolve) => setTimeout(resolve, 400));
					return { kind: "transient", reason: "HTTP 503: busy" };
				},
			};
		});
		const waking = pacer.wake(campaign.id);
		await new Promise((resolve) => setTimeout(resolve, 150));
		expect(asked).toBe(2);
		const cancelling = pacer.cancel(campaign.id);
		await Promise.all([waking, cancelling]);
		expect((await pacer.view(campaign.id)).status).toBe("cancelled");

		// Time passes; alarms and the minute cron run.
		for (let i = 0; i < 3; i++) {
			clock.now += 60 * 60_000;
			await runDurableObjectAlarm(pacer);
			await runCron(Date.now() + 60 * 60_000 * (i + 1));
		}
		const { results } = await env.DB.prepare("SELECT status, ended_at FROM calls WHERE campaign_id = ?")
			.bind(campaign.id)
			.all<{ status: string; ended_at: string | null }>();
		expect(results).toHaveLength(2);
		expect(
			results.filter((row) => row.ended_at === null).map((row) => row.status),
			"calls of a cancelled campaign still open in D1",
		).toEqual([]);
	});
});

describe("cancel while calls are still being recorded", () => {
	it("the never-dialled calls close, their contacts go back to pending, and nothing counts as dialled", async () => {
		const account = await pbxAccount();
		const campaign = await createCampaign(account, { contacts: phones(3), max_concurrent_calls: 3 });
		const pacer = pacerOf(campaign.id);
		const clock = { now: Date.parse("2030-03-04T17:00:00Z") };
		const dialled: string[] = [];
		await runInDurableObject(pacer, (object: CampaignPacer) => {
			object.clock = () => clock.now;
			object.dialer = {
				place: async (c) => {
					dialled.push(c.callId);
					return { kind: "accepted" };
				},
			};
		});
		const fault = failD1("INSERT INTO calls");
		await pacer.wake(campaign.id);
		expect(dialled).toHaveLength(0);
		const result = await pacer.cancel(campaign.id);
		expect(result.status).toBe("cancelled");
		fault.restore();
		clock.now += 5_000;
		await runDurableObjectAlarm(pacer);
		const view = await pacer.view(campaign.id);
		expect(view.in_flight).toBe(0);
		expect(dialled).toHaveLength(0);
		const { results } = await env.DB.prepare("SELECT status FROM campaign_contacts WHERE campaign_id = ?")
			.bind(campaign.id)
			.all<{ status: string }>();
		// No call is open, yet every contact claims one in flight.
		expect(view.contacts.in_flight, "pacer contacts in_flight with no call in flight").toBe(0);
		expect(
			results.map((r) => r.status),
			"D1 campaign_contacts",
		).not.toContain("in_flight");
	});
});
