import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { CallOutcome } from "../durable-objects/campaign/pacing";
import { checkInvariants, createCampaign, pacerOf, phones, random, takeOver, windowOf } from "./campaign-helpers";
import { pbxAccount } from "./helpers";

describe("campaign pacing invariants", () => {
	it("holds every cap over ~2,000 simulated calls with random durations and outcomes, across DST and evictions", {
		timeout: 120_000,
	}, async () => {
		const account = await pbxAccount();
		const config = {
			contacts: phones(1_500),
			scheduled_at: "2030-03-04T15:00:00Z",
			timezone: "America/New_York",
			start_time: "09:00",
			end_time: "17:00",
			working_days: [1, 2, 3, 4, 5],
			max_concurrent_calls: 7,
			max_calls_per_day: 220,
			retry_failed: true,
			max_retry_attempts: 2,
			retry_delay_seconds: 1800,
		};
		const campaign = await createCampaign(account, config);
		expect(campaign.status).toBe("scheduled");
		const window = windowOf(config);
		const pacer = pacerOf(campaign.id);
		const clock = { now: Date.parse("2030-03-04T12:00:00Z") };
		const { inject, dialled } = takeOver(campaign.id, clock);
		await inject();
		await pacer.wake(campaign.id);
		expect(dialled).toHaveLength(0); // before scheduled_at

		const rand = random(20300304);
		const outcomes: CallOutcome[] = ["completed", "completed", "completed", "no_answer", "busy", "failed"];
		let evictions = 0;
		for (let step = 0; step < 6_000 && (await pacer.view(campaign.id)).status !== "completed"; step++) {
			clock.now += Math.floor(rand() * 9 * 60_000) + 1_000;
			const open = await pacer.openCalls();
			for (const call of open) {
				if (rand() < 0.6)
					await pacer.callEnded(campaign.id, call.id, outcomes[Math.floor(rand() * outcomes.length)] ?? "completed");
			}
			if (rand() < 0.01) {
				await evictDurableObject(pacer);
				await inject();
				evictions++;
			}
			await runDurableObjectAlarm(pacer);
		}
		const log = await pacer.callLog();
		expect((await pacer.view(campaign.id)).status).toBe("completed");
		expect(log.length).toBeGreaterThan(1_900);
		expect(evictions).toBeGreaterThan(0);
		const perDay = checkInvariants(log, window, 7, 220, 3);
		// DST began on Sunday 2030-03-10: the days after it were dialled too, at the shifted UTC times.
		expect([...perDay.keys()].some((day) => day > "2030-03-10")).toBe(true);
		expect(log.some((call) => call.started_at < (window.scheduledAt ?? 0))).toBe(false);
		// Every call the pacer recorded went to the dialer once, and only those.
		expect(new Set(dialled.map((call) => call.callId)).size).toBe(log.length);
		// Retries only for no-answer and busy.
		for (const call of log.filter((c) => c.attempt > 1)) {
			const previous = log.find((c) => c.contact_id === call.contact_id && c.attempt === call.attempt - 1);
			expect(["no_answer", "busy"]).toContain(previous?.outcome);
			expect(call.started_at - (previous?.ended_at ?? 0)).toBeGreaterThanOrEqual(1_800_000);
		}
	});
});
