import { describe, expect, it } from "vitest";
import {
	type CampaignWindow,
	instantOf,
	isValidTimeZone,
	isWindowOpen,
	localTime,
	nextOpening,
} from "../../durable-objects/campaign/schedule";

const ny: CampaignWindow = {
	timezone: "America/New_York",
	startMinute: 10 * 60,
	endMinute: 17 * 60,
	workingDays: [1, 2, 3, 4, 5],
	scheduledAt: null,
};
const at = (iso: string) => Date.parse(iso);

describe("campaign windows", () => {
	it("local time, weekday and date in the zone", () => {
		// 2026-03-20 is a Friday; 14:30Z is 10:30 in New York (EDT, UTC−4).
		expect(localTime(at("2026-03-20T14:30:00Z"), "America/New_York")).toEqual({ date: "2026-03-20", weekday: 5, minute: 630 });
		// 03:00Z on the 21st is still the 20th in New York.
		expect(localTime(at("2026-03-21T03:00:00Z"), "America/New_York").date).toBe("2026-03-20");
		expect(localTime(at("2026-03-20T17:30:00Z"), "Asia/Ho_Chi_Minh")).toEqual({ date: "2026-03-21", weekday: 6, minute: 30 });
	});

	it("half-open [start, end) on working days only", () => {
		expect(isWindowOpen(at("2026-03-20T13:59:59Z"), ny)).toBe(false);
		expect(isWindowOpen(at("2026-03-20T14:00:00Z"), ny)).toBe(true);
		expect(isWindowOpen(at("2026-03-20T20:59:59Z"), ny)).toBe(true);
		expect(isWindowOpen(at("2026-03-20T21:00:00Z"), ny)).toBe(false);
		expect(isWindowOpen(at("2026-03-21T15:00:00Z"), ny)).toBe(false); // Saturday
	});

	it("never before scheduled_at", () => {
		const scheduled = { ...ny, scheduledAt: at("2026-03-20T18:30:00Z") };
		expect(isWindowOpen(at("2026-03-20T18:29:59Z"), scheduled)).toBe(false);
		expect(isWindowOpen(at("2026-03-20T18:30:00Z"), scheduled)).toBe(true);
		expect(nextOpening(at("2026-03-20T12:00:00Z"), scheduled)).toBe(at("2026-03-20T18:30:00Z"));
	});

	it("next opening: later today, tomorrow, or after the weekend", () => {
		expect(nextOpening(at("2026-03-19T12:00:00Z"), ny)).toBe(at("2026-03-19T14:00:00Z"));
		expect(nextOpening(at("2026-03-19T15:00:00Z"), ny)).toBe(at("2026-03-19T15:00:00Z"));
		expect(nextOpening(at("2026-03-19T22:00:00Z"), ny)).toBe(at("2026-03-20T14:00:00Z"));
		expect(nextOpening(at("2026-03-20T22:00:00Z"), ny)).toBe(at("2026-03-23T14:00:00Z"));
		expect(nextOpening(at("2026-03-20T22:00:00Z"), { ...ny, workingDays: [] })).toBeNull();
	});

	it("DST: the opening moves with the local clock", () => {
		// US clocks spring forward on Sunday 2026-03-08: 10:00 is 15:00Z before, 14:00Z after.
		expect(nextOpening(at("2026-03-06T22:00:00Z"), ny)).toBe(at("2026-03-09T14:00:00Z"));
		expect(instantOf({ year: 2026, month: 3, day: 6 }, 600, "America/New_York")).toBe(at("2026-03-06T15:00:00Z"));
		// Falls back on 2026-11-01.
		expect(instantOf({ year: 2026, month: 11, day: 2 }, 600, "America/New_York")).toBe(at("2026-11-02T15:00:00Z"));
	});

	it("DST gap: a window starting at 02:30 on spring-forward day opens at 03:00", () => {
		const night = { ...ny, startMinute: 150, endMinute: 240, workingDays: [7] };
		expect(instantOf({ year: 2026, month: 3, day: 8 }, 150, "America/New_York")).toBe(at("2026-03-08T07:00:00Z"));
		expect(nextOpening(at("2026-03-08T05:00:00Z"), night)).toBe(at("2026-03-08T07:00:00Z"));
	});

	it("DST overlap: 01:30 on fall-back day is its first occurrence", () => {
		expect(instantOf({ year: 2026, month: 11, day: 1 }, 90, "America/New_York")).toBe(at("2026-11-01T05:30:00Z"));
	});

	it("time zones are validated", () => {
		expect(isValidTimeZone("America/New_York")).toBe(true);
		expect(isValidTimeZone("Mars/Olympus")).toBe(false);
		expect(isValidTimeZone("UTC")).toBe(true);
	});
});

describe("startOfLocalDay", () => {
	it("is local midnight, DST-correct", async () => {
		const { startOfLocalDay } = await import("../../durable-objects/campaign/schedule");
		// New York springs forward on 2030-03-10: midnight is still EST (UTC−5) that day, EDT the next.
		expect(new Date(startOfLocalDay(Date.parse("2030-03-10T18:00:00Z"), "America/New_York")).toISOString()).toBe(
			"2030-03-10T05:00:00.000Z",
		);
		expect(new Date(startOfLocalDay(Date.parse("2030-03-11T03:59:00Z"), "America/New_York")).toISOString()).toBe(
			"2030-03-10T05:00:00.000Z",
		);
		expect(new Date(startOfLocalDay(Date.parse("2030-03-11T04:00:00Z"), "America/New_York")).toISOString()).toBe(
			"2030-03-11T04:00:00.000Z",
		);
		expect(new Date(startOfLocalDay(Date.parse("2030-03-04T23:30:00Z"), "Pacific/Kiritimati")).toISOString()).toBe(
			"2030-03-04T10:00:00.000Z",
		);
	});
});
