import { describe, expect, it } from "vitest";
import { filterCalls, outcomesOf } from "../../console/src/call-filter";
import { extraLiveFields, idleReasons } from "../../console/src/campaign-state";
import { formatDuration, formatRelative, formatTime, percent } from "../../console/src/format";
import { changedPacing, pacingOf } from "../../console/src/pacing";
import { phonesFrom } from "../../console/src/phones";
import { policyItems, readRateHeaders } from "../../console/src/rate-headers";
import type { Call, Campaign } from "../../console/src/types";

const campaign = (overrides: Partial<Campaign> = {}, live: Partial<NonNullable<Campaign["live"]>> = {}): Campaign => ({
	id: "c1",
	name: "C",
	agent_id: "a",
	schedule_type: "immediate",
	scheduled_at: null,
	timezone: "UTC",
	start_time: "09:00",
	end_time: "17:00",
	working_days: [5, 1, 2],
	max_concurrent_calls: 2,
	max_calls_per_day: 10,
	status: "active",
	version: 1,
	created_at: "2026-11-24T10:00:00.000Z",
	updated_at: "2026-11-24T10:00:00.000Z",
	live: {
		contacts: { total: 5, pending: 3, in_flight: 2, done: 0, skipped: 0 },
		in_flight: 2,
		calls_today: 2,
		window_open: true,
		next_opening_at: null,
		provider: { state: "available", since: null, next_try_at: null, last_error: null },
		...live,
	},
	...overrides,
});
const iso = (value: string) => `<${value}>`;

describe("why a campaign is not dialling", () => {
	it("says nothing while it dials", () => {
		expect(idleReasons(campaign(), iso)).toEqual([]);
	});

	it("names each reason, most decisive first", () => {
		expect(idleReasons(campaign({ status: "paused" }), iso)).toEqual([expect.stringMatching(/^Paused/)]);
		expect(idleReasons(campaign({ status: "completed" }), iso)).toEqual(["The campaign is completed."]);
		const blocked = idleReasons(
			campaign(
				{},
				{
					window_open: false,
					next_opening_at: "2026-11-25T09:00:00.000Z",
					calls_today: 10,
					provider: { state: "unavailable", since: "x", next_try_at: "2026-11-24T10:05:00.000Z", last_error: "HTTP 503" },
				},
			),
			iso,
		);
		expect(blocked).toEqual([
			"Outside the calling window: it next opens at <2026-11-25T09:00:00.000Z>.",
			"The dialer provider is unavailable (HTTP 503); next try at <2026-11-24T10:05:00.000Z>.",
			"Today's cap is reached: 10 of 10 calls.",
		]);
	});

	it("shows live fields it does not know by name (from a newer server)", () => {
		const live = campaign().live;
		expect(extraLiveFields(live)).toEqual([]);
		const newer = { ...live, quiet_hours: { open: false, waiting: 3 }, contacts: { ...live?.contacts, held: 1 } };
		expect(extraLiveFields(newer as Campaign["live"])).toEqual([
			["quiet_hours.open", "false"],
			["quiet_hours.waiting", "3"],
			["contacts.held", "1"],
		]);
	});
});

describe("pacing edits", () => {
	it("send only what changed", () => {
		const base = pacingOf(campaign());
		expect(base.working_days).toEqual([1, 2, 5]);
		expect(changedPacing(base, { ...base })).toEqual({});
		expect(
			changedPacing(base, { ...base, max_concurrent_calls: 3, working_days: [1, 2, 5, 6], max_calls_per_day: null }),
		).toEqual({
			max_concurrent_calls: 3,
			working_days: [1, 2, 5, 6],
			max_calls_per_day: null,
		});
	});
});

describe("rate-limit headers as the console reads them", () => {
	it("names the group and the connection cap from RateLimit-Policy", () => {
		expect(policyItems('"pbx";q=60;w=60, "connections";q=20;qu="concurrent-requests"')).toEqual([
			{ name: "pbx", quota: 60 },
			{ name: "connections", quota: 20 },
		]);
		const headers: Record<string, string> = {
			"RateLimit-Policy": '"autocall";q=120;w=60, "connections";q=20;qu="concurrent-requests"',
			"X-RateLimit-Limit": "120",
			"X-RateLimit-Remaining": "117",
			"X-RateLimit-Reset": "1795382468",
		};
		expect(readRateHeaders((name) => headers[name] ?? null, 5)).toEqual({
			group: "autocall",
			limit: 120,
			remaining: 117,
			resetAt: 1795382468000,
			maxConnections: 20,
			seenAt: 5,
		});
		expect(readRateHeaders(() => null, 5)).toBeUndefined();
	});
});

describe("calls table filters and formats", () => {
	const call = (to: string, outcome: string | null) => ({ to_phone: to, outcome }) as Call;
	it("filters by outcome and by part of the number", () => {
		const calls = [call("+84987000010", "completed"), call("+84987000017", "no_answer"), call("+84987000020", null)];
		expect(filterCalls(calls, { outcome: "no_answer", phone: "" })).toEqual([calls[1]]);
		expect(filterCalls(calls, { outcome: "", phone: "0 17" })).toEqual([calls[1]]);
		expect(filterCalls(calls, { outcome: "none", phone: "" })).toEqual([calls[2]]);
		expect(outcomesOf(calls)).toEqual(["completed", "no_answer", "none"]);
	});

	it("formats durations, times, relative times and percentages", () => {
		expect([formatDuration(null), formatDuration(42), formatDuration(65), formatDuration(3720)]).toEqual([
			"—",
			"42s",
			"1m 05s",
			"1h 02m",
		]);
		expect(formatTime("2026-11-24T10:03:07.000Z", "UTC")).toBe("2026-11-24 10:03:07");
		expect(formatTime("2026-11-24T10:03:07.000Z", "Asia/Ho_Chi_Minh")).toBe("2026-11-24 17:03:07");
		expect(formatTime(null)).toBe("—");
		expect([formatRelative(42_000, 0), formatRelative(0, 600_000), formatRelative(0, 0)]).toEqual([
			"in 42 s",
			"10 min ago",
			"now",
		]);
		expect([percent(1, 3), percent(0, 0)]).toEqual([33, 0]);
		expect(phonesFrom(" 0987000010\n0987000011, 0987000012;\n\n")).toEqual(["0987000010", "0987000011", "0987000012"]);
	});
});
