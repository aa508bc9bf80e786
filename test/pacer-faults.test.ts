import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { CallOutcome } from "../durable-objects/campaign/pacing";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import type { DialResult, OutboundCall } from "../workers/dialer/dialer";
import { checkInvariants, createCampaign, dialerCallback, pacerOf, phones, random, runCron, windowOf } from "./campaign-helpers";
import { countRows, pbxAccount } from "./helpers";
import { failD1, failMethod, restoreFaults } from "./support/faults";

afterEach(() => restoreFaults());

interface Callback {
	event_id: string;
	call_id: string;
	status: CallOutcome | "ringing";
	occurred_at: string;
}

const results: string[] = [];

async function sendCallback(callback: Callback): Promise<number> {
	const response = await dialerCallback({ ...callback });
	const text = await response.text();
	if (response.status === 200) results.push((JSON.parse(text) as { result: string }).result);
	return response.status;
}

describe("the pacer under a random fault schedule", () => {
	it("holds every invariant, loses and doubles nothing, and ends in agreement with D1", { timeout: 180_000 }, async () => {
		const seed = 20301104;
		const rand = random(seed);
		const account = await pbxAccount();
		const config = {
			contacts: phones(200),
			scheduled_at: "2030-03-04T15:00:00Z",
			timezone: "America/New_York",
			start_time: "09:00",
			end_time: "17:00",
			working_days: [1, 2, 3, 4, 5],
			max_concurrent_calls: 5,
			max_calls_per_day: 120,
			retry_failed: true,
			max_retry_attempts: 1,
			retry_delay_seconds: 600,
		};
		const campaign = await createCampaign(account, config);
		const window = windowOf(config);
		const pacer = pacerOf(campaign.id);
		const clock = { now: Date.parse("2030-03-04T15:00:00Z") };

		// The provider: refuses at random (transient, thrown, now and then for good), dedupes by call id.
		const accepted = new Map<string, OutboundCall>();
		const faults = { transient: 0, thrown: 0, permanent: 0, d1: 0, lostHandOvers: 0, evictions: 0, duplicates: 0 };
		const place = async (outbound: OutboundCall): Promise<DialResult> => {
			if (accepted.has(outbound.callId)) return { kind: "accepted" };
			const roll = rand();
			if (roll < 0.1) {
				faults.transient++;
				return { kind: "transient", reason: "HTTP 503", retryAfterMs: rand() < 0.3 ? 5_000 : undefined };
			}
			if (roll < 0.14) {
				faults.thrown++;
				throw new TypeError("connection reset");
			}
			if (roll < 0.16) {
				faults.permanent++;
				return { kind: "permanent", reason: "HTTP 400: Invalid number" };
			}
			accepted.set(outbound.callId, outbound);
			return { kind: "accepted" };
		};
		const inject = () =>
			runInDurableObject(pacer, (object: CampaignPacer) => {
				object.clock = () => clock.now;
				object.random = rand;
				object.dialer = { place };
			});
		await inject();
		const prototype = await runInDurableObject(pacer, (object: CampaignPacer) => Object.getPrototypeOf(object) as CampaignPacer);

		const outcomes: CallOutcome[] = ["completed", "completed", "completed", "no_answer", "busy", "failed"];
		const redeliveries: Callback[] = [];
		let d1Outage: { fault: ReturnType<typeof failD1>; until: number } | null = null;
		const finished = new Map<string, CallOutcome | "ringing">();

		for (let step = 0; step < 4_000 && (await pacer.view(campaign.id)).status !== "completed"; step++) {
			clock.now += Math.floor(rand() * 4 * 60_000) + 1_000;
			// D1 fails under the pacer's record batch for a stretch of minutes, before or after committing.
			if (d1Outage && clock.now >= d1Outage.until) {
				d1Outage.fault.restore();
				d1Outage = null;
			}
			if (!d1Outage && rand() < 0.04) {
				const mode = rand() < 0.5 ? "throw" : "lose-answer";
				d1Outage = { fault: failD1("next_wake_at = ?4", { mode }), until: clock.now + Math.floor(rand() * 10 * 60_000) };
				faults.d1++;
			}
			for (const open of await pacer.openCalls()) {
				if (!accepted.has(open.id) || finished.has(open.id) || rand() > 0.5) continue;
				const callback: Callback = {
					event_id: `final-${open.id}`,
					call_id: open.id,
					status: outcomes[Math.floor(rand() * outcomes.length)] ?? "completed",
					occurred_at: new Date(clock.now).toISOString(),
				};
				// Sometimes the hand-over to the pacer fails: the provider redelivers later, or gives up (the cron reconciles).
				const lose = rand() < 0.1;
				const fault = lose
					? failMethod(prototype, "callEnded", { times: 1, mode: rand() < 0.5 ? "throw" : "lose-answer" })
					: null;
				const status = await sendCallback(callback);
				fault?.restore();
				if (status >= 500) {
					faults.lostHandOvers++;
					if (rand() < 0.5) redeliveries.push(callback);
				}
				finished.set(open.id, callback.status);
				if (rand() < 0.1) {
					faults.duplicates++;
					expect(await sendCallback(callback)).toBeLessThan(500);
				}
			}
			if (redeliveries.length && rand() < 0.3) await sendCallback(redeliveries.shift() as Callback);
			if (rand() < 0.01) {
				await evictDurableObject(pacer);
				await inject();
				faults.evictions++;
			}
			if (rand() < 0.05) await runCron(clock.now);
			await runDurableObjectAlarm(pacer);
		}

		restoreFaults();
		// The dust settles: pending redeliveries arrive, the cron reconciles what the provider gave up on.
		for (const callback of redeliveries.splice(0)) await sendCallback(callback);
		clock.now += 60_000;
		await runCron(clock.now);
		await runDurableObjectAlarm(pacer);

		const view = await pacer.view(campaign.id);
		expect(view.status).toBe("completed");
		expect(await pacer.unrecorded()).toEqual({ rows: 0, events: 0 });
		const log = await pacer.callLog();
		expect(log.length).toBeGreaterThan(200);
		checkInvariants(log, window, config.max_concurrent_calls, config.max_calls_per_day, config.max_retry_attempts + 1);
		// Every fault kind happened.
		for (const [kind, count] of Object.entries(faults)) expect(count, kind).toBeGreaterThan(0);

		// No attempt was placed twice at the provider, and every placed call is in the log.
		const placedAttempts = new Set<string>();
		for (const placed of accepted.values()) {
			const entry = log.find((c) => c.id === placed.callId);
			expect(entry, placed.callId).toBeDefined();
			const key = `${entry?.contact_id}#${entry?.attempt}`;
			expect(placedAttempts.has(key), key).toBe(false);
			placedAttempts.add(key);
		}
		// Every contact has its final outcome, in the pacer and in D1.
		expect(view.contacts).toMatchObject({ total: 200, done: 200 });
		expect(await countRows("campaign_contacts", "campaign_id = ? AND status != 'done'", campaign.id)).toBe(0);
		// D1 and the pacer agree call by call: nothing open, nothing unacknowledged, nothing extra.
		const { results: rows } = await env.DB.prepare(
			"SELECT id, ended_at, pacer_closed_at, status FROM calls WHERE campaign_id = ?",
		)
			.bind(campaign.id)
			.all<{ id: string; ended_at: string | null; pacer_closed_at: string | null; status: string }>();
		const logged = new Set(log.map((c) => c.id));
		expect(rows.filter((row) => row.ended_at === null)).toEqual([]);
		expect(rows.filter((row) => row.pacer_closed_at === null)).toEqual([]);
		expect(rows.filter((row) => !logged.has(row.id))).toEqual([]);
		for (const id of logged)
			expect(
				rows.some((row) => row.id === id),
				id,
			).toBe(true);
		// Each call ended with the outcome its provider reported, not a timeout after a lost callback.
		for (const [id, outcome] of finished) expect(rows.find((row) => row.id === id)?.status, id).toBe(outcome);
		// Every callback found its call: no call is dialled before D1 has it.
		expect(results).not.toContain("unknown-call");
		const tally = Object.fromEntries(Object.entries(Object.groupBy(results, (r) => r)).map(([k, v]) => [k, v?.length ?? 0]));
		console.log(JSON.stringify({ seed, calls: log.length, placed: accepted.size, faults, callbacks: tally }));
	});
});
