import { describe, expect, it } from "vitest";
import { type CallSpan, capsAt, chartSeries, drawable } from "../../console/src/chart-data";

const s = 1000;
const HOUR = 3_600_000;

/** In flight at t, the slow way: calls with start ≤ t < end. */
const inFlightAt = (spans: CallSpan[], t: number) => spans.filter((x) => x.start <= t && (x.end === null || t < x.end)).length;
const perHourAt = (spans: CallSpan[], t: number) => spans.filter((x) => x.start <= t && x.start > t - HOUR).length;

describe("the console chart's series", () => {
	it("steps at every start and end, and reaches now", () => {
		const spans: CallSpan[] = [
			{ start: 10 * s, end: 13 * s },
			{ start: 10 * s, end: 14 * s },
			{ start: 13 * s, end: null },
		];
		const series = chartSeries(spans, 20 * s);
		expect(series.x).toEqual([10, 13, 14, 20]);
		expect(series.inFlight).toEqual([2, 2, 1, 1]);
		expect(series.perHour).toEqual([2, 3, 3, 3]);
	});

	it("counts only the trailing hour's starts", () => {
		const spans: CallSpan[] = [
			{ start: 0, end: s },
			{ start: HOUR, end: HOUR + s },
		];
		const series = chartSeries(spans, HOUR + 2 * s);
		expect(series.perHour.at(-1)).toBe(1);
		expect(series.perHour[series.x.indexOf(HOUR / 1000)]).toBe(1);
	});

	it("agrees with counting call by call on random calls", () => {
		let seed = 7;
		const random = () => {
			seed = (seed * 1103515245 + 12345) % 2 ** 31;
			return seed / 2 ** 31;
		};
		const spans: CallSpan[] = Array.from({ length: 300 }, () => {
			const start = Math.floor(random() * 3 * HOUR);
			return { start, end: random() < 0.1 ? null : start + Math.floor(random() * 600 * s) };
		});
		const now = 4 * HOUR;
		const series = chartSeries(spans, now);
		expect(series.x.at(-1)).toBe(now / 1000);
		series.x.forEach((x, i) => {
			expect(series.inFlight[i]).toBe(inFlightAt(spans, Math.round(x * 1000)));
			expect(series.perHour[i]).toBe(perHourAt(spans, Math.round(x * 1000)));
		});
	});

	it("is one point at now with no calls", () => {
		expect(chartSeries([], 5 * s)).toEqual({ x: [5], inFlight: [0], perHour: [0] });
		// Drawn, a lone point gets a flat minute before it (uPlot would spread one point over 1,000 days).
		expect(drawable(chartSeries([], 100 * s))).toEqual({ x: [40, 100], inFlight: [0, 0], perHour: [0, 0] });
		const two = chartSeries([{ start: 10 * s, end: null }], 20 * s);
		expect(drawable(two)).toBe(two);
	});
});

describe("the caps the chart draws", () => {
	it("are the last change seen at or before each instant, the first standing for everything before it", () => {
		const history = [
			{ at: 0, concurrent: 2, daily: null },
			{ at: 50 * s, concurrent: 3, daily: 100 },
		];
		expect(capsAt(history, -5)?.concurrent).toBe(2);
		expect(capsAt(history, 49_999)?.concurrent).toBe(2);
		expect(capsAt(history, 50 * s)).toEqual({ at: 50 * s, concurrent: 3, daily: 100 });
		expect(capsAt([], 1)).toBeUndefined();
	});
});
