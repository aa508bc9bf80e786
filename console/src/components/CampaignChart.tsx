import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { type CallSpan, type CapsSeen, capsAt, chartSeries, drawable } from "../chart-data";

interface Props {
	spans: CallSpan[];
	/** The caps as seen while the page was open, oldest first (at least one). */
	caps: CapsSeen[];
	/** The campaign is over: the line stops at its last call instead of running on to now. */
	final: boolean;
	/** The server's count of the campaign's calls today, which is what the daily cap limits. */
	callsToday: number | undefined;
}

const COLORS = { inFlight: "#1d4ed8", cap: "#b91c1c", perHour: "#047857" };

/**
 * Calls in flight against max_concurrent_calls (left axis) and calls started in the trailing
 * hour (right axis, its own scale), as exact step lines. The daily cap is not drawn: it limits
 * the calls of a day, and a line of it beside calls per hour would compare a day with an hour
 * (and suggest a campaign could never reach it); the caption gives it beside the calls today.
 * The canvas is decorative for assistive technology: the caption says the same in words, and
 * carries the figures as data attributes for the browser tests.
 */
export function CampaignChart({ spans, caps, final, callsToday }: Props) {
	const current = caps.at(-1);
	const maxConcurrent = current?.concurrent ?? 0;
	const dailyCap = current?.daily ?? null;
	const container = useRef<HTMLDivElement>(null);
	const plot = useRef<uPlot | undefined>(undefined);
	const [now, setNow] = useState(Date.now());

	useEffect(() => {
		if (final) return;
		const tick = setInterval(() => setNow(Date.now()), 5_000);
		return () => clearInterval(tick);
	}, [final]);

	// The last start or end heard, which may be newer than the last tick of `now`.
	const latest = spans.reduce((max, span) => Math.max(max, span.end ?? span.start), 0);
	const until = final && spans.length ? latest : Math.max(now, latest);
	const series = useMemo(() => chartSeries(spans, until), [spans, until]);
	const data = useMemo<uPlot.AlignedData>(() => {
		const drawn = drawable(series);
		return [drawn.x, drawn.inFlight, drawn.x.map((x) => capsAt(caps, x * 1000)?.concurrent ?? null), drawn.perHour];
	}, [series, caps]);

	useEffect(() => {
		const root = container.current;
		if (!root) return;
		const stepped = uPlot.paths.stepped?.({ align: 1 });
		const instance = new uPlot(
			{
				width: root.clientWidth || 600,
				height: 260,
				legend: { show: false },
				cursor: { show: true, points: { show: false } },
				scales: {
					// At least a minute wide, growing to the right: a campaign's first seconds would otherwise be ticks of milliseconds.
					x: { time: true, range: (_u, min, max) => [min, Math.max(max, min + 60)] },
					y: { range: (_u, _min, max) => [0, Math.max(max, 1) * 1.15] },
					h: { range: (_u, _min, max) => [0, Math.max(max, 1) * 1.15] },
				},
				series: [
					{},
					{ label: "In flight", stroke: COLORS.inFlight, width: 2, paths: stepped, scale: "y", points: { show: false } },
					{
						label: "Concurrency cap",
						stroke: COLORS.cap,
						width: 1,
						dash: [6, 4],
						paths: stepped,
						scale: "y",
						points: { show: false },
					},
					{ label: "Calls per hour", stroke: COLORS.perHour, width: 2, paths: stepped, scale: "h", points: { show: false } },
				],
				axes: [
					{ stroke: "#374151" },
					{ scale: "y", label: "in flight", stroke: "#374151" },
					{ scale: "h", side: 1, label: "calls started in the last hour", stroke: "#374151", grid: { show: false } },
				],
			},
			data,
			root,
		);
		plot.current = instance;
		const resize = new ResizeObserver(() => instance.setSize({ width: root.clientWidth || 600, height: 260 }));
		resize.observe(root);
		return () => {
			resize.disconnect();
			instance.destroy();
			plot.current = undefined;
		};
		// Built once; data arrives through setData below.
	}, []);

	useEffect(() => {
		plot.current?.setData(data);
	}, [data]);

	const last = series.x.length - 1;
	const inFlightNow = series.inFlight[last] ?? 0;
	const perHourNow = series.perHour[last] ?? 0;
	const peak = Math.max(0, ...series.inFlight);
	return (
		<figure
			class="chart"
			data-points={series.x.length}
			data-in-flight={inFlightNow}
			data-per-hour={perHourNow}
			data-calls={spans.length}
		>
			<div ref={container} aria-hidden="true" />
			<figcaption>
				<ul class="legend">
					<li>
						<span class="swatch" style={{ background: COLORS.inFlight }} /> In flight: <strong>{inFlightNow}</strong> (peak {peak}
						)
					</li>
					<li>
						<span class="swatch dashed" style={{ borderColor: COLORS.cap }} /> Concurrency cap: {maxConcurrent}
					</li>
					<li>
						<span class="swatch" style={{ background: COLORS.perHour }} /> Calls started in the last hour:{" "}
						<strong>{perHourNow}</strong>
					</li>
					<li data-testid="daily-cap">
						Daily cap (not drawn: it counts a day, the line above an hour): calls today <strong>{callsToday ?? "…"}</strong> of{" "}
						{dailyCap ?? "no cap"}
					</li>
				</ul>
			</figcaption>
		</figure>
	);
}
