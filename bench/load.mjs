import autocannon from "autocannon";

/**
 * Fixed-duration load from this (second) process, or a fixed number of requests (`amount`, all
 * answered before it returns); returns requests/s and latency percentiles.
 */
export async function load({ url, duration = 8, amount, connections = 10, headers = {}, method = "GET", body, requests }) {
	const result = await autocannon({ url, duration, amount, connections, headers, method, body, requests });
	const ok = result["2xx"];
	return {
		rps: ok / (result.duration || duration),
		p50: result.latency.p50,
		p99: result.latency.p99,
		non2xx: result.non2xx,
		errors: result.errors + result.timeouts,
		total: result.requests.total,
	};
}

export function row(name, stats) {
	return `| ${name.padEnd(38)} | ${stats.rps.toFixed(0).padStart(7)} | ${String(stats.p50).padStart(6)} | ${String(stats.p99).padStart(6)} | ${String(stats.non2xx + stats.errors).padStart(6)} |`;
}

export const header = [
	`| ${"scenario".padEnd(38)} | ${"req/s".padStart(7)} | ${"p50 ms".padStart(6)} | ${"p99 ms".padStart(6)} | ${"errors".padStart(6)} |`,
	`|${"-".repeat(40)}|${"-".repeat(9)}|${"-".repeat(8)}|${"-".repeat(8)}|${"-".repeat(8)}|`,
];
