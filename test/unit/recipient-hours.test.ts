import { describe, expect, it } from "vitest";
import {
	allOpen,
	earliestTurn,
	FAR_HORIZON_MS,
	hoursIn,
	isCallable,
	nextCommonOpening,
	nextTurn,
	type RecipientRule,
	windowsFor,
} from "../../durable-objects/campaign/recipient-hours";
import type { CampaignWindow } from "../../durable-objects/campaign/schedule";

const at = (iso: string) => Date.parse(iso);
const clock = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));

/** A London campaign, 09:00–17:00 Monday to Friday. */
const london: CampaignWindow = {
	timezone: "Europe/London",
	startMinute: clock("09:00"),
	endMinute: clock("17:00"),
	workingDays: [1, 2, 3, 4, 5],
	scheduledAt: null,
};
const tcpa: RecipientRule = { hours: { startMinute: clock("08:00"), endMinute: clock("21:00") }, unknownTimezone: "campaign" };
const NY = ["America/New_York"];

// 2026: the US moves its clocks on 8 March and 1 November, the UK on 29 March and 25 October.
// New York is 5 hours behind London, but 4 in the weeks when only one of them has moved.
describe("campaign window in London, recipient hours in New York, across both DST changes", () => {
	it("both on standard time: New York's 08:00 is London's 13:00", () => {
		expect(nextTurn(at("2026-03-02T00:00:00Z"), london, NY, tcpa)).toBe(at("2026-03-02T13:00:00Z"));
		expect(isCallable(at("2026-03-02T12:59:00Z"), london, NY, tcpa)).toBe(false); // 07:59 in New York
		expect(isCallable(at("2026-03-02T13:00:00Z"), london, NY, tcpa)).toBe(true);
	});

	it("only the US on summer time (9–27 March): New York's 08:00 is London's 12:00", () => {
		expect(nextTurn(at("2026-03-09T00:00:00Z"), london, NY, tcpa)).toBe(at("2026-03-09T12:00:00Z"));
		expect(isCallable(at("2026-03-09T12:00:00Z"), london, NY, tcpa)).toBe(true);
		expect(isCallable(at("2026-03-09T11:59:00Z"), london, NY, tcpa)).toBe(false);
	});

	it("both on summer time: 13:00 in London again, which is 12:00Z; London's window closes at 16:00Z", () => {
		expect(nextTurn(at("2026-03-30T00:00:00Z"), london, NY, tcpa)).toBe(at("2026-03-30T12:00:00Z"));
		expect(isCallable(at("2026-03-30T15:59:00Z"), london, NY, tcpa)).toBe(true);
		expect(isCallable(at("2026-03-30T16:00:00Z"), london, NY, tcpa)).toBe(false); // 17:00 BST
	});

	it("only the UK back on standard time (26–30 October), then both", () => {
		expect(nextTurn(at("2026-10-26T00:00:00Z"), london, NY, tcpa)).toBe(at("2026-10-26T12:00:00Z"));
		expect(isCallable(at("2026-10-26T16:30:00Z"), london, NY, tcpa)).toBe(true); // 16:30 GMT, 12:30 EDT
		expect(nextTurn(at("2026-11-02T00:00:00Z"), london, NY, tcpa)).toBe(at("2026-11-02T13:00:00Z"));
	});

	it("the recipient's evening end moves too: a late London window closes at New York's 21:00", () => {
		const evening = { ...london, startMinute: clock("14:00"), endMinute: clock("23:59"), workingDays: [1, 2, 3, 4, 5, 6, 7] };
		const early: RecipientRule = { ...tcpa, hours: { startMinute: clock("08:00"), endMinute: clock("17:00") } };
		// Standard time on both sides: 17:00 in New York is 22:00 in London.
		expect(isCallable(at("2026-03-03T21:30:00Z"), evening, NY, early)).toBe(true);
		expect(isCallable(at("2026-03-03T22:00:00Z"), evening, NY, early)).toBe(false);
		// US on summer time alone: it is 21:00 in London (21:00Z) already.
		expect(isCallable(at("2026-03-10T20:59:00Z"), evening, NY, early)).toBe(true);
		expect(isCallable(at("2026-03-10T21:00:00Z"), evening, NY, early)).toBe(false);
	});

	it("the recipient's spring-forward morning: 08:00 local is an hour earlier in UTC from that Sunday", () => {
		const everyDay = {
			...london,
			timezone: "UTC",
			startMinute: 0,
			endMinute: clock("23:59"),
			workingDays: [1, 2, 3, 4, 5, 6, 7],
		};
		// From 21:00 the evening before (closed) to 08:00 the next morning.
		expect(nextTurn(at("2026-03-07T02:00:00Z"), everyDay, NY, tcpa)).toBe(at("2026-03-07T13:00:00Z")); // EST
		expect(nextTurn(at("2026-03-08T02:00:00Z"), everyDay, NY, tcpa)).toBe(at("2026-03-08T12:00:00Z")); // EDT
	});
});

describe("recipients in several zones", () => {
	const utc: CampaignWindow = {
		timezone: "UTC",
		startMinute: 0,
		endMinute: clock("23:59"),
		workingDays: [1, 2, 3, 4, 5, 6, 7],
		scheduledAt: null,
	};

	it("an area code spanning zones waits until the hours are open in each", () => {
		const alaska = ["America/Adak", "America/Anchorage"];
		// Summer: Anchorage is UTC−8, Adak UTC−9. From 06:00Z (22:00 and 21:00, both closed), the
		// next common opening is 08:00 in Adak (17:00Z), 09:00 in Anchorage.
		expect(isCallable(at("2026-07-01T06:00:00Z"), utc, alaska, tcpa)).toBe(false);
		expect(nextTurn(at("2026-07-01T06:00:00Z"), utc, alaska, tcpa)).toBe(at("2026-07-01T17:00:00Z"));
		expect(isCallable(at("2026-07-01T16:30:00Z"), utc, alaska, tcpa)).toBe(false); // 08:30 Anchorage, 07:30 Adak
		// 21:00 in Anchorage (05:00Z) ends it, while Adak is still at 20:00.
		expect(isCallable(at("2026-07-02T04:59:00Z"), utc, alaska, tcpa)).toBe(true);
		expect(isCallable(at("2026-07-02T05:00:00Z"), utc, alaska, tcpa)).toBe(false);
	});

	it("no overlap within the horizon: null (a New York 09:00–17:00 campaign never meets Tokyo's 08:00–21:00)", () => {
		const ny: CampaignWindow = { ...london, timezone: "America/New_York" };
		expect(nextTurn(at("2026-07-01T00:00:00Z"), ny, ["Asia/Tokyo"], tcpa)).toBeNull();
	});

	it("looked for up to a year: none for Tokyo against New York 09:00–17:00 in any season, whatever the DST changes", () => {
		const ny: CampaignWindow = { ...london, timezone: "America/New_York" };
		const from = at("2026-07-01T00:00:00Z");
		const started = performance.now();
		expect(nextTurn(from, ny, ["Asia/Tokyo"], tcpa, from + FAR_HORIZON_MS)).toBeNull();
		// What a year's search costs (bounded: a few window openings a day); printed, not asserted.
		console.log(`a year's search without an opening: ${Math.round(performance.now() - started)} ms`);
	});

	it("looked for up to a year: an opening only after both zones' DST changes is found, to the minute", () => {
		// 12:00–13:00 UTC every day is 07:00–08:00 in New York under EST and 08:00–09:00 under EDT.
		const noonUtc: CampaignWindow = { ...london, timezone: "UTC", startMinute: clock("12:00"), endMinute: clock("13:00") };
		const everyDayNoon = { ...noonUtc, workingDays: [1, 2, 3, 4, 5, 6, 7] };
		const from = at("2025-11-03T00:00:00Z"); // the day after the US fell back
		expect(nextTurn(from, everyDayNoon, NY, tcpa)).toBeNull();
		expect(nextTurn(from, everyDayNoon, NY, tcpa, from + FAR_HORIZON_MS)).toBe(at("2026-03-08T12:00:00Z"));
		// Weekdays only: 8 March 2026 is a Sunday, so Monday the 9th.
		expect(nextTurn(from, noonUtc, NY, tcpa, from + FAR_HORIZON_MS)).toBe(at("2026-03-09T12:00:00Z"));
	});

	it("the earliest turn of a set of zones, and `from` itself when one is open", () => {
		const zones = [["Asia/Tokyo"], ["Europe/Paris"], ["America/Los_Angeles"]];
		// 06:00Z: 15:00 Tokyo (open), 08:00 Paris (open, CEST), 23:00 LA (closed).
		expect(earliestTurn(at("2026-07-01T06:00:00Z"), utc, zones, tcpa)).toBe(at("2026-07-01T06:00:00Z"));
		// 13:00Z: Tokyo closed (22:00), Paris open.
		expect(earliestTurn(at("2026-07-01T13:00:00Z"), utc, zones, tcpa)).toBe(at("2026-07-01T13:00:00Z"));
		// 20:00Z: Tokyo 05:00, Paris 22:00, LA 13:00 (open).
		expect(earliestTurn(at("2026-07-01T20:00:00Z"), utc, zones, tcpa)).toBe(at("2026-07-01T20:00:00Z"));
		// Tokyo and Paris only, at 19:00Z (04:00 and 21:00, both closed): Tokyo opens first, at 23:00Z.
		expect(earliestTurn(at("2026-07-01T19:00:00Z"), utc, zones.slice(0, 2), tcpa)).toBe(at("2026-07-01T23:00:00Z"));
	});
});

describe("the rule", () => {
	const ny: CampaignWindow = { ...london, timezone: "America/New_York" };

	it("without recipient hours only the campaign's window counts", () => {
		const none: RecipientRule = { hours: null, unknownTimezone: "skip" };
		expect(windowsFor(ny, ["Pacific/Honolulu"], none)).toEqual([ny]);
		expect(windowsFor(ny, [], none)).toEqual([ny]);
		// 10:00 in New York is 04:00 in Honolulu: the seed's behaviour, allowed without the rule.
		expect(isCallable(at("2026-07-01T14:00:00Z"), ny, ["Pacific/Honolulu"], none)).toBe(true);
		expect(isCallable(at("2026-07-01T14:00:00Z"), ny, ["Pacific/Honolulu"], tcpa)).toBe(false);
	});

	it("an unknown zone: the campaign's zone, or skipped (its turn is the campaign window's opening)", () => {
		expect(windowsFor(ny, [], tcpa)).toEqual([ny, hoursIn("America/New_York", tcpa.hours ?? { startMinute: 0, endMinute: 0 })]);
		const skip: RecipientRule = { ...tcpa, unknownTimezone: "skip" };
		expect(windowsFor(ny, [], skip)).toBe("skip");
		expect(isCallable(at("2026-07-01T15:00:00Z"), ny, [], skip)).toBe(false);
		expect(nextTurn(at("2026-07-01T00:00:00Z"), ny, [], skip)).toBe(at("2026-07-01T13:00:00Z"));
	});

	it("allOpen and nextCommonOpening agree on the instant found", () => {
		const windows = windowsFor(ny, ["Europe/Berlin"], tcpa);
		if (windows === "skip") throw new Error("unexpected skip");
		const found = nextCommonOpening(at("2026-07-01T00:00:00Z"), windows);
		expect(found).toBe(at("2026-07-01T13:00:00Z")); // 09:00 EDT = 15:00 CEST
		expect(allOpen(found ?? 0, windows)).toBe(true);
		expect(allOpen((found ?? 0) - 60_000, windows)).toBe(false);
		// Berlin's 21:00 (19:00Z) closes it before New York's 17:00 (21:00Z).
		expect(allOpen(at("2026-07-01T18:59:00Z"), windows)).toBe(true);
		expect(allOpen(at("2026-07-01T19:00:00Z"), windows)).toBe(false);
	});
});
