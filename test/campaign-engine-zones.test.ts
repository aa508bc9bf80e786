import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { CallOutcome } from "../durable-objects/campaign/pacing";
import { isCallable } from "../durable-objects/campaign/recipient-hours";
import { localTime } from "../durable-objects/campaign/schedule";
import { readContactPolicy, recipientRule } from "../workers/compliance/contact-policy";
import { recipientZones } from "../workers/compliance/recipient-zone";
import { checkInvariants, createCampaign, pacerOf, random, takeOver, windowOf } from "./campaign-helpers";
import { callJson, pbxAccount } from "./helpers";

/** Recipients spread over the world's clocks; each makes `count` contacts with distinct numbers. */
const POPULATIONS: { label: string; count: number; contact: (i: number) => string | { phone: string; timezone: string } }[] = [
	{ label: "New York", count: 70, contact: (i) => `+1212555${String(1000 + i)}` },
	{ label: "Chicago", count: 60, contact: (i) => `+1312555${String(1000 + i)}` },
	{ label: "Denver", count: 50, contact: (i) => `+1303555${String(1000 + i)}` },
	{ label: "Phoenix", count: 50, contact: (i) => `+1602555${String(1000 + i)}` },
	{ label: "Los Angeles", count: 60, contact: (i) => `+1415555${String(1000 + i)}` },
	{ label: "Honolulu", count: 50, contact: (i) => `+1808555${String(1000 + i)}` },
	{ label: "Alaska (Adak and Anchorage)", count: 40, contact: (i) => `+1907555${String(1000 + i)}` },
	{ label: "Paris", count: 50, contact: (i) => `+3312345${String(1000 + i)}` },
	{ label: "Tokyo", count: 50, contact: (i) => `+81312${String(100_000 + i)}` },
	{ label: "unknown (Russian mobile)", count: 40, contact: (i) => `+7916${String(1_000_000 + i)}` },
	{
		label: "own zone Asia/Kolkata",
		count: 30,
		contact: (i) => ({ phone: `+1646555${String(1000 + i)}`, timezone: "Asia/Kolkata" }),
	},
];

describe("campaign pacing with recipient hours", () => {
	it("contacts in eleven zones, 08:00–21:00 at the recipient's end: over days and a DST change, no call starts outside either window, caps hold, nothing is dialled twice", {
		timeout: 240_000,
	}, async () => {
		const account = await pbxAccount();
		const policy = await callJson("/api/account/contact-policy", {
			method: "PUT",
			token: account.token,
			body: { recipient_hours: { start: "08:00", end: "21:00" }, unknown_timezone: "campaign" },
		});
		expect(policy.status).toBe(200);
		const rand = random(20300307);
		// Shuffled, so that every zone has contacts early and late in the queue.
		const contacts = POPULATIONS.flatMap((population) =>
			Array.from({ length: population.count }, (_, i) => population.contact(i)),
		)
			.map((contact) => ({ contact, order: rand() }))
			.sort((a, b) => a.order - b.order)
			.map(({ contact }) => contact);
		const config = {
			contacts,
			// Thursday 07:00 in New York; the US moves its clocks on Sunday 2030-03-10, Europe on 2030-03-31.
			scheduled_at: "2030-03-07T12:00:00Z",
			timezone: "America/New_York",
			start_time: "07:00",
			end_time: "22:00",
			working_days: [1, 2, 3, 4, 5, 6],
			max_concurrent_calls: 6,
			max_calls_per_day: 120,
			retry_failed: true,
			max_retry_attempts: 1,
			retry_delay_seconds: 1800,
		};
		const campaign = await createCampaign(account, config);
		const window = windowOf(config);
		const rule = recipientRule(await readContactPolicy(env.DB, account.id));
		const pacer = pacerOf(campaign.id);
		const clock = { now: Date.parse("2030-03-07T11:00:00Z") };
		const { inject, dialled } = takeOver(campaign.id, clock);
		await inject();

		const outcomes: CallOutcome[] = ["completed", "completed", "completed", "no_answer", "busy", "failed"];
		let evictions = 0;
		for (let step = 0; step < 8_000 && (await pacer.view(campaign.id)).status !== "completed"; step++) {
			clock.now += Math.floor(rand() * 9 * 60_000) + 1_000;
			for (const call of await pacer.openCalls()) {
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
		const view = await pacer.view(campaign.id);
		expect(view.status).toBe("completed");
		expect(view.contacts).toMatchObject({ total: contacts.length, done: contacts.length, skipped: 0 });
		expect(evictions).toBeGreaterThan(0);

		const log = await pacer.callLog();
		const perDay = checkInvariants(log, window, 6, 120, 2);
		// Every call went to the provider once, and only those.
		expect(new Set(dialled.map((call) => call.callId)).size).toBe(log.length);

		// The recipient's end: every call started inside 08:00–21:00 in each of its recipient's zones
		// (the campaign's zone for unknown ones).
		const { results } = await env.DB.prepare("SELECT id, phone, timezone FROM campaign_contacts WHERE campaign_id = ?")
			.bind(campaign.id)
			.all<{ id: string; phone: string; timezone: string | null }>();
		const zonesOf = new Map(results.map((row) => [row.id, recipientZones(row.phone, row.timezone)]));
		const outside = log.filter((call) => !isCallable(call.started_at, window, zonesOf.get(call.contact_id) ?? [], rule));
		expect(
			outside.map((call) => `${new Date(call.started_at).toISOString()} ${zonesOf.get(call.contact_id)?.join("&")}`),
			"calls started outside the recipient's hours",
		).toEqual([]);
		// Every zone's recipients were reached, at their own local hours.
		const localHours = new Map<string, Set<number>>();
		for (const call of log) {
			const zones = zonesOf.get(call.contact_id) ?? [];
			const key = zones.join("&") || "unknown";
			const hour = Math.floor(localTime(call.started_at, zones[0] ?? window.timezone).minute / 60);
			localHours.set(key, (localHours.get(key) ?? new Set()).add(hour));
		}
		expect([...localHours.keys()].sort()).toEqual(
			[
				"America/New_York",
				"America/Chicago",
				"America/Denver",
				"America/Phoenix",
				"America/Los_Angeles",
				"Pacific/Honolulu",
				"America/Adak&America/Anchorage",
				"Europe/Paris",
				"Asia/Tokyo",
				"unknown",
				"Asia/Kolkata",
			].sort(),
		);
		for (const [zone, hours] of localHours) {
			expect(Math.min(...hours), zone).toBeGreaterThanOrEqual(8);
			expect(Math.max(...hours), zone).toBeLessThan(21);
		}
		// The run crossed the US change of clocks while Europe had not changed yet.
		expect([...perDay.keys()].some((day) => day > "2030-03-10")).toBe(true);
	});
});
