import { describe, expect, it } from "vitest";
import { idleReasons } from "../../console/src/campaign-state";
import { campaignWindowOpen } from "../../console/src/campaign-window";
import {
	describeAttemptCap,
	describeRecipientHours,
	type PolicyState,
	recipientHoursNow,
	unknownBecause,
} from "../../console/src/contact-policy";
import { latestSkipped, skippedFromCall, skippedFromEvent, skipReason } from "../../console/src/skipped";
import type { Call, Campaign, ContactPolicy } from "../../console/src/types";
import { isWindowOpen, parseClock } from "../../durable-objects/campaign/schedule";

type Live = NonNullable<Campaign["live"]>;

const campaign = (overrides: Partial<Campaign> = {}, live: Partial<Live> = {}): Campaign => ({
	id: "c1",
	name: "C",
	agent_id: "a",
	schedule_type: "immediate",
	scheduled_at: null,
	timezone: "America/New_York",
	start_time: "09:00",
	end_time: "17:00",
	working_days: [1, 2, 3, 4, 5],
	max_concurrent_calls: 2,
	max_calls_per_day: null,
	status: "active",
	version: 1,
	created_at: "2026-03-01T10:00:00.000Z",
	updated_at: "2026-03-01T10:00:00.000Z",
	live: {
		contacts: { total: 5, pending: 3, in_flight: 0, done: 1, skipped: 1 },
		in_flight: 0,
		calls_today: 1,
		window_open: true,
		next_opening_at: null,
		provider: { state: "available", since: null, next_try_at: null, last_error: null },
		...live,
	},
	...overrides,
});
const at = (iso: string) => Date.parse(iso);

describe("the campaign's own window, as the console computes it", () => {
	it("opens at start_time and closes at end_time in the campaign's zone, on both sides of the spring change", () => {
		const ny = campaign();
		// Friday 6 March 2026, EST (UTC−5).
		expect(campaignWindowOpen(ny, at("2026-03-06T13:59:00Z"))).toBe(false);
		expect(campaignWindowOpen(ny, at("2026-03-06T14:00:00Z"))).toBe(true);
		expect(campaignWindowOpen(ny, at("2026-03-06T21:59:00Z"))).toBe(true);
		expect(campaignWindowOpen(ny, at("2026-03-06T22:00:00Z"))).toBe(false);
		// Monday 9 March, after the change (EDT, UTC−4): the same local hours, an hour earlier in UTC.
		expect(campaignWindowOpen(ny, at("2026-03-09T12:59:00Z"))).toBe(false);
		expect(campaignWindowOpen(ny, at("2026-03-09T13:00:00Z"))).toBe(true);
		expect(campaignWindowOpen(ny, at("2026-03-09T20:59:00Z"))).toBe(true);
		expect(campaignWindowOpen(ny, at("2026-03-09T21:00:00Z"))).toBe(false);
		// Saturday and Sunday are not working days here.
		expect(campaignWindowOpen(ny, at("2026-03-07T15:00:00Z"))).toBe(false);
		expect(campaignWindowOpen(ny, at("2026-03-08T15:00:00Z"))).toBe(false);
	});

	it("follows the hour that is skipped in spring and the hour that repeats in autumn", () => {
		const night = campaign({ start_time: "01:00", end_time: "03:00", working_days: [1, 2, 3, 4, 5, 6, 7] });
		// 8 March 2026: 01:59 EST, then 03:00 EDT a minute later.
		expect(campaignWindowOpen(night, at("2026-03-08T06:59:00Z"))).toBe(true);
		expect(campaignWindowOpen(night, at("2026-03-08T07:00:00Z"))).toBe(false);
		// 1 November 2026: 01:30 happens twice (EDT, then EST), open both times; 03:00 EST closes,
		// three hours of UTC after 01:00 EDT opened.
		expect(campaignWindowOpen(night, at("2026-11-01T04:59:00Z"))).toBe(false);
		expect(campaignWindowOpen(night, at("2026-11-01T05:30:00Z"))).toBe(true);
		expect(campaignWindowOpen(night, at("2026-11-01T06:30:00Z"))).toBe(true);
		expect(campaignWindowOpen(night, at("2026-11-01T07:59:00Z"))).toBe(true);
		expect(campaignWindowOpen(night, at("2026-11-01T08:00:00Z"))).toBe(false);
	});

	it("uses the working day of the campaign's zone, not of UTC (Sunday is 7)", () => {
		const sydney = campaign({ timezone: "Australia/Sydney", start_time: "08:00", end_time: "12:00", working_days: [7] });
		// Saturday 4 April 2026 22:30 UTC is Sunday 09:30 AEDT; Sunday 5 April 22:30 UTC is Monday 08:30 AEST.
		expect(campaignWindowOpen(sydney, at("2026-04-04T22:30:00Z"))).toBe(true);
		expect(campaignWindowOpen(sydney, at("2026-04-05T22:30:00Z"))).toBe(false);
		// Sunday 5 April after the autumn change (AEST, UTC+10): 11:59 local is 01:59 UTC.
		expect(campaignWindowOpen(sydney, at("2026-04-05T01:59:00Z"))).toBe(true);
		expect(campaignWindowOpen(sydney, at("2026-04-05T02:00:00Z"))).toBe(false);
	});

	it("is closed before scheduled_at, and unknown for a zone the browser does not know", () => {
		const scheduled = campaign({ scheduled_at: "2026-03-09T15:00:00.000Z" });
		expect(campaignWindowOpen(scheduled, at("2026-03-09T14:59:59Z"))).toBe(false);
		expect(campaignWindowOpen(scheduled, at("2026-03-09T15:00:00Z"))).toBe(true);
		expect(campaignWindowOpen(campaign({ timezone: "Mars/Olympus_Mons" }), 0)).toBeUndefined();
	});

	it("agrees with the pacer's own window at every hour and half hour across a year, in zones with and without DST", () => {
		const windows = [
			{ timezone: "America/New_York", start_time: "09:00", end_time: "17:00", working_days: [1, 2, 3, 4, 5] },
			{ timezone: "Europe/London", start_time: "00:30", end_time: "02:30", working_days: [7, 1] },
			{ timezone: "Australia/Sydney", start_time: "02:00", end_time: "03:30", working_days: [1, 2, 3, 4, 5, 6, 7] },
			{ timezone: "Asia/Ho_Chi_Minh", start_time: "08:00", end_time: "20:00", working_days: [1, 2, 3, 4, 5, 6] },
			{ timezone: "America/Adak", start_time: "00:00", end_time: "23:59", working_days: [3] },
		];
		let compared = 0;
		let open = 0;
		for (const window of windows) {
			const mine = campaign(window);
			const pacer = {
				timezone: window.timezone,
				startMinute: parseClock(window.start_time),
				endMinute: parseClock(window.end_time),
				workingDays: window.working_days,
				scheduledAt: null,
			};
			for (let t = at("2026-01-01T00:00:00Z"); t < at("2027-01-01T00:00:00Z"); t += 30 * 60_000) {
				const expected = isWindowOpen(t, pacer);
				expect(campaignWindowOpen(mine, t), `${window.timezone} at ${new Date(t).toISOString()}`).toBe(expected);
				compared++;
				if (expected) open++;
			}
		}
		expect(compared).toBe(5 * 365 * 48);
		// Both answers occur in every zone, so the comparison is not of two constants.
		expect(open).toBeGreaterThan(compared / 10);
		expect(open).toBeLessThan(compared / 2);
	});
});

describe("the contact policy on the campaign page", () => {
	const policy = (overrides: Partial<ContactPolicy> = {}): ContactPolicy => ({
		recipient_hours: null,
		unknown_timezone: "campaign",
		max_attempts_per_number: null,
		...overrides,
	});
	const loaded = (overrides: Partial<ContactPolicy> = {}): PolicyState => ({ state: "loaded", policy: policy(overrides) });

	it("describes the recipient hours and the attempt cap", () => {
		expect(describeRecipientHours(policy())).toBe("Off: the campaign's window alone decides");
		expect(describeRecipientHours(policy({ recipient_hours: { start: "08:00", end: "21:00" }, unknown_timezone: "skip" }))).toBe(
			"08:00–21:00 in each contact's own time zone; unknown zones: skip (not called, counted skipped)",
		);
		expect(describeRecipientHours(policy({ recipient_hours: { start: "08:00", end: "21:00" } }))).toMatch(
			/unknown zones: campaign \(held to these hours in the campaign's zone\)$/,
		);
		expect(describeAttemptCap(policy())).toBeNull();
		expect(describeAttemptCap(policy({ max_attempts_per_number: { count: 3, days: 1 } }))).toBe(
			"At most 3 calls to a number in any 24 h, across all campaigns",
		);
		expect(describeAttemptCap(policy({ max_attempts_per_number: { count: 1, days: 30 } }))).toBe(
			"At most 1 call to a number in any 30 days, across all campaigns",
		);
	});

	it("says what the policy could not be read for, instead of breaking", () => {
		expect(unknownBecause(403)).toBe("unknown (needs a token allowed to read the account's contact policy)");
		expect(unknownBecause(404)).toBe("unknown (needs a server with GET /api/account/contact-policy)");
		expect(unknownBecause(429)).toMatch(/^unknown \(needs a moment/);
		expect(unknownBecause(0)).toBe("unknown (needs the server to answer)");
		expect(unknownBecause(500)).toBe("unknown (the server answered 500)");
		expect(unknownBecause(undefined)).toBe("unknown (the console could not read it)");
	});

	it("says what the recipient hours mean now from the two windows", () => {
		const hours = loaded({ recipient_hours: { start: "08:00", end: "21:00" } });
		const live = (window_open: boolean, pending = 2) => ({ window_open, contacts: { pending } });
		expect(recipientHoursNow(hours, true, live(true))).toBe("At least one pending contact is inside its local hours");
		expect(recipientHoursNow(hours, true, live(false))).toBe("No pending contact is inside its local hours");
		expect(recipientHoursNow(hours, false, live(false))).toBe("The campaign's own window is closed");
		expect(recipientHoursNow(hours, true, live(false, 0))).toBe("No contact is pending");
		expect(recipientHoursNow(hours, undefined, live(false))).toBeNull();
		expect(recipientHoursNow(loaded(), true, live(false))).toBeNull();
		expect(recipientHoursNow({ state: "unknown", why: "unknown (…)" }, true, live(false))).toBeNull();
		expect(recipientHoursNow(hours, true, undefined)).toBeNull();
	});

	it("names the recipient hours among the reasons nothing dials only when the campaign's own window is open", () => {
		const closed = campaign({}, { window_open: false, next_opening_at: "2026-03-09T20:00:00.000Z" });
		const iso = (value: string) => `<${value}>`;
		expect(idleReasons(closed, iso, { campaignOpen: true, recipientHours: "on" })).toEqual([
			"No pending contact is inside its local hours (the account's recipient hours); next opening at <2026-03-09T20:00:00.000Z>.",
		]);
		// The policy unread: the campaign's window is open, so only the recipient hours can be closed.
		expect(idleReasons(closed, iso, { campaignOpen: true, recipientHours: "unknown" })[0]).toMatch(/^No pending contact/);
		expect(idleReasons(closed, iso, { campaignOpen: false, recipientHours: "on" })).toEqual([
			"Outside the calling window: it next opens at <2026-03-09T20:00:00.000Z>.",
		]);
		// Off: a difference is the two clocks disagreeing at the edge of the window, not recipient hours.
		expect(idleReasons(closed, iso, { campaignOpen: true, recipientHours: "off" })[0]).toMatch(/^Outside the calling window/);
		expect(idleReasons(closed, iso)[0]).toMatch(/^Outside the calling window/);
	});

	it("counts skipped contacts as settled: a campaign waiting on none says nothing about retries", () => {
		const iso = (value: string) => value;
		const allSettled = campaign({}, { contacts: { total: 5, pending: 0, in_flight: 0, done: 3, skipped: 2 } });
		expect(idleReasons(allSettled, iso)).toEqual([]);
		const waiting = campaign({}, { contacts: { total: 5, pending: 0, in_flight: 0, done: 2, skipped: 2 } });
		expect(idleReasons(waiting, iso)).toEqual(["Contacts are waiting for a retry."]);
	});
});

describe("skipped contacts and why", () => {
	const event = (data: Record<string, unknown>, created_at = "2026-03-09T13:00:00.000Z", type = "contact.skipped") => ({
		id: "evt",
		type,
		created_at,
		data,
	});
	const call = (overrides: Partial<Call>) =>
		({
			id: "call",
			kind: "campaign",
			campaign_id: "c1",
			contact_id: "k1",
			to_phone: "+84987000020",
			status: "skipped",
			failure_reason: "do_not_call",
			created_at: "2026-03-09T12:59:00.000Z",
			ended_at: "2026-03-09T12:59:30.000Z",
			...overrides,
		}) as Call;

	it("reads contact.skipped events and skipped calls, and nothing else", () => {
		expect(
			skippedFromEvent(event({ campaign_id: "c1", contact_id: "k1", phone: "+84987000020", reason: "do_not_call" })),
		).toEqual({
			contactId: "k1",
			campaignId: "c1",
			phone: "+84987000020",
			reason: "do_not_call",
			at: at("2026-03-09T13:00:00Z"),
		});
		expect(skippedFromEvent(event({ campaign_id: "c1", contact_id: "k1" }, undefined, "call.started"))).toBeUndefined();
		expect(skippedFromEvent(event({ campaign_id: "c1" }))).toBeUndefined();
		expect(skippedFromCall(call({}))).toEqual({
			contactId: "k1",
			campaignId: "c1",
			phone: "+84987000020",
			reason: "do_not_call",
			at: at("2026-03-09T12:59:30Z"),
		});
		expect(skippedFromCall(call({ status: "completed", failure_reason: null }))).toBeUndefined();
		expect(skippedFromCall(call({ kind: "click_to_call", campaign_id: null }))).toBeUndefined();
	});

	it("lists one campaign's skips once per contact, latest first, up to the limit", () => {
		const fromCalls = [
			skippedFromCall(call({ contact_id: "k1" })),
			skippedFromCall(call({ contact_id: "k2", failure_reason: "max_attempts", ended_at: "2026-03-09T13:05:00.000Z" })),
		].filter((x) => x !== undefined);
		const heard = [
			skippedFromEvent(event({ campaign_id: "c1", contact_id: "k1", phone: "+84987000020", reason: "do_not_call" })),
			skippedFromEvent(
				event(
					{ campaign_id: "c1", contact_id: "k3", phone: "+84987000030", reason: "unknown_timezone" },
					"2026-03-09T13:10:00.000Z",
				),
			),
			skippedFromEvent(event({ campaign_id: "other", contact_id: "k9", phone: "+1", reason: "do_not_call" })),
		].filter((x) => x !== undefined);
		const listed = latestSkipped([fromCalls, heard], "c1", 10);
		expect(listed.map((s) => [s.contactId, s.reason])).toEqual([
			["k3", "unknown_timezone"],
			["k2", "max_attempts"],
			["k1", "do_not_call"],
		]);
		expect(latestSkipped([fromCalls, heard], "c1", 2).map((s) => s.contactId)).toEqual(["k3", "k2"]);
		expect([skipReason("do_not_call"), skipReason("max_attempts"), skipReason("unknown_timezone"), skipReason("new")]).toEqual([
			"on the do-not-call list",
			"attempts per number used up",
			"time zone unknown (unknown_timezone: skip)",
			"new",
		]);
	});
});
