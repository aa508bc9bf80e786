/** A call as the chart sees it: when it started and, once over, when it ended (epoch ms). */
export interface CallSpan {
	start: number;
	end: number | null;
}

export interface ChartSeries {
	/** Seconds since the epoch, ascending: every start and end, then `now`. */
	x: number[];
	/** Calls in flight just after each instant. */
	inFlight: number[];
	/** Calls started in the hour up to each instant (a trailing window). */
	perHour: number[];
}

const HOUR_MS = 3_600_000;

/**
 * The chart's series from the campaign's calls: a point at every start and end, so the step
 * lines are exact (no sampling between events), and one at `now` so the line reaches the
 * present. Starts and ends at the same instant count both: in flight is the number of calls
 * with start ≤ t < end.
 */
export function chartSeries(spans: readonly CallSpan[], now: number): ChartSeries {
	const starts = spans.map((span) => span.start).sort((a, b) => a - b);
	const ends = spans
		.map((span) => span.end)
		.filter((end): end is number => end !== null)
		.sort((a, b) => a - b);
	const instants = [...new Set([...starts, ...ends, now])].filter((t) => t <= now).sort((a, b) => a - b);
	const series: ChartSeries = { x: [], inFlight: [], perHour: [] };
	let started = 0;
	let ended = 0;
	let hourFrom = 0;
	for (const t of instants) {
		while (started < starts.length && (starts[started] ?? Infinity) <= t) started++;
		while (ended < ends.length && (ends[ended] ?? Infinity) <= t) ended++;
		while (hourFrom < started && (starts[hourFrom] ?? Infinity) <= t - HOUR_MS) hourFrom++;
		series.x.push(t / 1000);
		series.inFlight.push(started - ended);
		series.perHour.push(started - hourFrom);
	}
	return series;
}

/** The caps as the page saw them change: the chart draws each from when it was first seen. */
export interface CapsSeen {
	/** Epoch ms. */
	at: number;
	concurrent: number;
	daily: number | null;
}

/**
 * The caps in force at `t` (epoch ms), as far as the page knows: the last change seen at or
 * before `t`; before the first, the first (the API keeps no history of a campaign's caps).
 */
export function capsAt(history: readonly CapsSeen[], t: number): CapsSeen | undefined {
	let found = history[0];
	for (const seen of history) {
		if (seen.at > t) break;
		found = seen;
	}
	return found;
}

/**
 * The series as drawn: uPlot stretches a lone time point over a thousand days, so a campaign
 * with no calls yet (one point, at now) gets a flat minute before it instead.
 */
export function drawable(series: ChartSeries): ChartSeries {
	const [x] = series.x;
	if (series.x.length !== 1 || x === undefined) return series;
	return { x: [x - 60, x], inFlight: [...series.inFlight, ...series.inFlight], perHour: [...series.perHour, ...series.perHour] };
}
