import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { PacerConfig } from "../durable-objects/campaign/config";
import { localTime } from "../durable-objects/campaign/schedule";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import type { DialResult, OutboundCall } from "../workers/dialer/dialer";
import { createCampaign, dialerCallback, pacerOf, phones } from "./campaign-helpers";
import { pbxAccount } from "./helpers";

/** Review 2: `max_calls_per_day` against what the provider actually placed. */

const NOON = Date.parse("2030-03-04T17:00:00Z");

async function setup(
	overrides: Record<string, unknown>,
	answer: (call: OutboundCall, placed: Map<string, number>) => DialResult,
	start = NOON,
) {
	const account = await pbxAccount();
	const campaign = await createCampaign(account, overrides);
	const pacer = pacerOf(campaign.id);
	const clock = { now: start };
	/** Calls the provider placed, with when. */
	const placed = new Map<string, number>();
	await runInDurableObject(pacer, (object: CampaignPacer) => {
		object.clock = () => clock.now;
		object.random = () => 0.5;
		object.dialer = { place: async (call) => answer(call, placed) };
	});
	return { campaign, pacer, clock, placed };
}

const callback = (callId: string, status: string) =>
	dialerCallback({ event_id: `e-${crypto.randomUUID()}`, call_id: callId, status, occurred_at: new Date().toISOString() });

describe("a dial that timed out although the provider placed it counts against the day", () => {
	it("max_calls_per_day = 2: the provider never places a third call that day", async () => {
		let asked = 0;
		const { campaign, pacer, clock, placed } = await setup(
			{ contacts: phones(3), max_concurrent_calls: 2, max_calls_per_day: 2 },
			(call, placed) => {
				asked++;
				placed.set(call.callId, clock.now);
				// The second request of the first round is taken, but its answer times out.
				if (asked === 2) return { kind: "transient", reason: "The provider did not answer in time.", uncertain: true };
				return { kind: "accepted" };
			},
		);
		await pacer.wake(campaign.id);
		expect(placed.size).toBe(2);
		const view = await pacer.view(campaign.id);
		// Two calls are at the provider, but the day counts one.
		expect.soft(view.calls_today, "calls_today with two calls placed").toBe(2);
		// The accepted one ends at once; its slot is refilled — with a third call on a day capped at 2.
		const [acceptedId, uncertainId] = [...placed.keys()] as [string, string];
		clock.now += 200;
		expect((await callback(acceptedId, "completed")).status).toBe(200);
		// The uncertain one was placed after all: its callback arrives.
		expect((await callback(uncertainId, "completed")).status).toBe(200);
		const day = localTime(NOON, "America/New_York").date;
		const onDay = [...placed.values()].filter((at) => localTime(at, "America/New_York").date === day).length;
		expect(onDay, `calls the provider placed on ${day} (max_calls_per_day = 2)`).toBeLessThanOrEqual(2);
		const log = await pacer.callLog();
		expect(log.filter((c) => c.local_date === day).length, "pacer's own call log for the day").toBeLessThanOrEqual(2);
	});
});

describe("PATCH timezone on a running campaign", () => {
	it("calls already started today still count against today's cap in the new zone", async () => {
		// Monday 15:00 in New York = Tuesday 10:00 in Kiritimati (UTC+14): both windows (10:00–17:00 Mon–Fri) open.
		const at = Date.parse("2030-03-04T20:00:00Z");
		const { campaign, pacer, clock, placed } = await setup(
			{ contacts: phones(6), max_concurrent_calls: 2, max_calls_per_day: 2 },
			(call, placed) => {
				placed.set(call.callId, clock.now);
				return { kind: "accepted" };
			},
			at,
		);
		await pacer.wake(campaign.id);
		expect(placed.size).toBe(2);
		for (const id of placed.keys()) await pacer.callEnded(campaign.id, id, "completed");
		expect(placed.size, "cap reached for the day").toBe(2);

		const state = await runInDurableObject(pacer, (_: CampaignPacer, s) => s.storage.kv.get<{ config: PacerConfig }>("state"));
		const config = state?.config as PacerConfig;
		clock.now += 60_000;
		await pacer.configure(campaign.id, {
			...config,
			window: { ...config.window, timezone: "Pacific/Kiritimati" },
			version: config.version + 1,
		});
		for (const id of placed.keys()) await pacer.callEnded(campaign.id, id, "completed");
		// In the new zone, every one of these calls started on Tuesday 2030-03-05.
		const perDay = new Map<string, number>();
		for (const when of placed.values()) {
			const day = localTime(when, "Pacific/Kiritimati").date;
			perDay.set(day, (perDay.get(day) ?? 0) + 1);
		}
		expect(Object.fromEntries(perDay), "calls per local day in the campaign's (new) zone, cap 2").toEqual({
			"2030-03-05": 2,
		});
	});
});
