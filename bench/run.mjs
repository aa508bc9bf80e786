// `npm run bench`: starts the local server and loads it from this second process. Scenarios
// that are compared run interleaved in the same run (bare, guarded, bare, guarded...) so that
// their ratios are measured side by side on the same noisy machine.
// BENCH_ONLY=guard,writes,import,webhooks,campaigns picks sections; BENCH_SECONDS / BENCH_ROUNDS size them.
import { randomUUID } from "node:crypto";
import { idleCreates, manyCampaigns, refillLatency } from "./campaigns.mjs";
import { csvImports } from "./csv-import.mjs";
import { header, load, row } from "./load.mjs";
import { api, benchAccount, startServer } from "./server.mjs";
import { webhookFanOut } from "./webhooks.mjs";
import { workerdCpu } from "./workerd.mjs";

const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const ONLY = process.env.BENCH_ONLY?.split(",");
const wanted = (section) => !ONLY || ONLY.includes(section);

const merge = (runs) => ({
	rps: runs.reduce((sum, r) => sum + r.rps, 0) / runs.length,
	p50: Math.max(...runs.map((r) => r.p50)),
	p99: Math.max(...runs.map((r) => r.p99)),
	non2xx: runs.reduce((sum, r) => sum + r.non2xx, 0),
	errors: runs.reduce((sum, r) => sum + r.errors, 0),
});

async function interleaved(scenarios) {
	const runs = Object.fromEntries(Object.keys(scenarios).map((key) => [key, []]));
	for (let round = 0; round < ROUNDS; round++) {
		for (const [key, scenario] of Object.entries(scenarios)) runs[key].push(await load({ ...scenario, duration: DURATION }));
	}
	const stats = Object.fromEntries(Object.entries(runs).map(([key, list]) => [key, merge(list)]));
	console.log([...header, ...Object.entries(scenarios).map(([key, s]) => row(s.name, stats[key]))].join("\n"));
	return stats;
}

async function guardSection({ base, auth }) {
	console.log("## The guard\n");
	// The floors are bench-only routes (BENCH_ROUTES, set by server.mjs): /health's pipeline, no
	// token, no D1, plus exactly one Durable Object RPC to one object, as the bench's one token has one guard.
	const stats = await interleaved({
		bare: { name: "GET /health (bare)", url: `${base}/health` },
		noop: { name: "GET /__bench/rpc-noop (1 DO RPC)", url: `${base}/__bench/rpc-noop` },
		write: { name: "GET /__bench/rpc-write (RPC + write)", url: `${base}/__bench/rpc-write` },
		guarded: { name: "GET /api/auth/me (token + guard)", url: `${base}/api/auth/me`, headers: auth },
		guardedDb: { name: "GET /api/pbx/users (guard + D1 query)", url: `${base}/api/pbx/users`, headers: auth },
	});
	const ratio = (a, b) => (stats[a].rps / stats[b].rps).toFixed(2);
	console.log(
		`\nguard/noop: ${ratio("guarded", "noop")}   guard/write: ${ratio("guarded", "write")}   guarded/bare: ${ratio("guarded", "bare")}   (floors: noop/bare ${ratio("noop", "bare")}, write/bare ${ratio("write", "bare")})`,
	);
	console.log(
		`p50 guarded − bare: ${stats.guarded.p50 - stats.bare.p50} ms   p50 guarded − write floor: ${stats.guarded.p50 - stats.write.p50} ms`,
	);
	const cpu = await cpuPerRequest({
		write: { url: `${base}/__bench/rpc-write` },
		guarded: { url: `${base}/api/auth/me`, headers: auth },
	});
	console.log(
		`workerd CPU per request: write floor ${cpu.write.toFixed(2)} ms, guarded ${cpu.guarded.toFixed(2)} ms → write/guard ${(cpu.write / cpu.guarded).toFixed(2)} (the guard's throughput ratio on a CPU-bound machine that does nothing else)`,
	);
	const trips = await guardRoundTrips(base, auth);
	const detail = Object.entries(trips.calls)
		.map(([method, n]) => `${method} ${n}`)
		.join(", ");
	console.log(
		`DO round trips per guarded request: ${(trips.total / trips.requests).toFixed(2)} (${detail}) over ${trips.requests} requests of GET /api/auth/me, 10 connections\n`,
	);
}

/**
 * The workerd processes' CPU milliseconds per request of each scenario, over a fixed number of
 * requests, interleaved: other load on the machine slows a scenario's throughput but adds
 * little to the CPU its own requests take, so this ratio moves less from run to run.
 */
async function cpuPerRequest(scenarios, requests = 2000) {
	const totals = Object.fromEntries(Object.keys(scenarios).map((key) => [key, 0]));
	for (let round = 0; round < ROUNDS; round++) {
		for (const [key, scenario] of Object.entries(scenarios)) {
			const { result, cpu } = await workerdCpu(() => load({ ...scenario, amount: requests }));
			if (result.non2xx || result.errors) throw new Error(`CPU count: ${result.non2xx} non-2xx, ${result.errors} errors`);
			totals[key] += (cpu * 1000) / requests;
		}
	}
	return Object.fromEntries(Object.entries(totals).map(([key, total]) => [key, total / ROUNDS]));
}

/**
 * Durable Object round trips per guarded request, counted by the token's guard object itself
 * (RPC calls received, by method; GET /__bench/guard-stats, which is not counted): read once the
 * counts are still, before and after a fixed number of requests, all answered. Nothing else uses
 * the bench's token meanwhile, so the difference is exactly theirs.
 */
async function guardRoundTrips(base, auth, requests = 1000) {
	const read = async () => {
		const response = await fetch(`${base}/__bench/guard-stats`, { headers: auth });
		if (!response.ok) throw new Error(`GET /__bench/guard-stats: ${response.status} (is BENCH_ROUTES set?)`);
		return response.json();
	};
	// Releases land after their answers (waitUntil), and the requests the previous scenario left in
	// flight when it stopped still land too: read until two reads 250 ms apart agree.
	const settled = async () => {
		let last = await read();
		for (let i = 0; i < 40; i++) {
			await new Promise((resolve) => setTimeout(resolve, 250));
			const next = await read();
			if (JSON.stringify(next) === JSON.stringify(last)) return next;
			last = next;
		}
		throw new Error("the guard's counts did not settle");
	};
	const before = await settled();
	const run = await load({ url: `${base}/api/auth/me`, headers: auth, amount: requests });
	if (run.total !== requests || run.non2xx || run.errors) {
		throw new Error(`round-trip count: ${run.total} answers, ${run.non2xx} non-2xx, ${run.errors} errors`);
	}
	const after = await settled();
	// A new instance id means the object was evicted in between and its in-memory counts restarted.
	if (after.instance !== before.instance) throw new Error("the guard object was reloaded during the count; run again");
	const calls = Object.fromEntries(
		Object.entries(after.calls)
			.map(([method, n]) => [method, n - (before.calls[method] ?? 0)])
			.filter(([, n]) => n > 0),
	);
	return { requests, calls, total: Object.values(calls).reduce((sum, n) => sum + n, 0) };
}

async function writesSection({ base, auth, token }) {
	console.log("## Idempotent writes (POST /api/pbx/calls/click-to-call)\n");
	await api(base, "/api/pbx/extensions", { token, body: { extension: "1001", name: "Bench" } });
	const body = JSON.stringify({ from_extension: "1001", to_phone: "0987654321" });
	const post = {
		url: `${base}/api/pbx/calls/click-to-call`,
		method: "POST",
		headers: { ...auth, "Content-Type": "application/json" },
		body,
	};
	const replayKey = randomUUID();
	await api(base, "/api/pbx/calls/click-to-call", { token, body: JSON.parse(body), headers: { "Idempotency-Key": replayKey } });
	const freshKey = (request) => ({ ...request, headers: { ...request.headers, "Idempotency-Key": randomUUID() } });
	const stats = await interleaved({
		plain: { name: "POST, no key", ...post },
		keyed: { name: "POST, new Idempotency-Key each", ...post, requests: [{ setupRequest: freshKey }] },
		replay: { name: "POST, replay of one key", ...post, headers: { ...post.headers, "Idempotency-Key": replayKey } },
	});
	const keyed = (stats.keyed.rps / stats.plain.rps).toFixed(2);
	const replay = (stats.replay.rps / stats.plain.rps).toFixed(2);
	console.log(`\nkeyed/plain throughput: ${keyed}   replay/plain: ${replay}\n`);
}

async function importSection({ base, token }, rows = 10_000, repeats = 3) {
	console.log("## Bulk import (10,000 leads per request, fresh campaign each)\n");
	const leads = Array.from({ length: rows }, (_, i) => ({ phone: `09${String(10_000_000 + i).slice(-8)}`, name: `Lead ${i}` }));
	let best = 0;
	for (let i = 0; i < repeats; i++) {
		const campaign = await api(base, "/api/telesales/campaigns", { token, body: { name: `Import ${i}` } });
		const started = performance.now();
		const report = await api(base, `/api/telesales/campaigns/${campaign.body.id}/leads/bulk-import`, { token, body: { leads } });
		const seconds = (performance.now() - started) / 1000;
		if (report.status !== 201 || report.body.created !== rows) throw new Error(`import failed: ${report.status}`);
		console.log(`- ${seconds.toFixed(2)} s → ${Math.round(rows / seconds).toLocaleString("en-US")} rows/s`);
		best = Math.max(best, rows / seconds);
	}
	console.log("");
	await csvImports({ base, token }, best);
}

async function campaignSection({ base, token }) {
	console.log("## Campaign engine (simulated dialer, 1 s calls)\n");
	const refill = await refillLatency(base, token);
	console.log(
		`- slot refill latency (call end → next call start, max_concurrent_calls 1, ${refill.calls} calls): p50 ${refill.p50} ms, p99 ${refill.p99} ms, max ${refill.max} ms`,
	);
	const campaigns = Number(process.env.BENCH_CAMPAIGNS ?? 1000);
	// The create path alone first (nothing dials meanwhile), then the same creates while every campaign runs.
	const idle = await idleCreates(base, token, { campaigns });
	console.log(
		`- ${idle.campaigns} campaigns × 4 contacts scheduled for tomorrow (nothing dialling): created in ${idle.createdIn.toFixed(1)} s, ${(idle.campaigns / idle.createdIn).toFixed(1)} creates/s (25 in flight; create latency p50 ${Math.round(idle.createP50)} ms, p99 ${Math.round(idle.createP99)} ms)`,
	);
	const many = await manyCampaigns(base, token, { campaigns });
	console.log(
		`- ${many.campaigns} active campaigns × 4 contacts (max_concurrent_calls 2, max_calls_per_day 3): created in ${many.createdIn.toFixed(1)} s, ${(many.campaigns / many.createdIn).toFixed(1)} creates/s (25 in flight; create latency p50 ${Math.round(many.createP50)} ms, p99 ${Math.round(many.createP99)} ms), all done ${many.ranIn.toFixed(1)} s after the first create, ${many.calls} calls, ${many.unfinished} unfinished`,
	);
	console.log(
		`- invariant violations: ${many.problems.length}${many.problems.length ? `\n${many.problems.slice(0, 10).join("\n")}` : ""}`,
	);
	if (many.problems.length || many.unfinished) process.exitCode = 1;
}

async function webhookSection({ base, token }) {
	console.log("## Webhook fan-out (local receiver, every signature verified with standardwebhooks)\n");
	const result = await webhookFanOut(base, token);
	console.log(
		`- ${result.delivered}/${result.expected} deliveries (200 SMS × 2 events × 5 endpoints) in ${result.seconds.toFixed(1)} s → ${result.perSecond.toFixed(0)} deliveries/s, ${result.invalid} bad signatures`,
	);
	console.log(
		`- the 200 SMS were answered in ${result.sentIn.toFixed(1)} s (${result.deliveredBySent} deliveries received by then); the other ${result.delivered - result.deliveredBySent} followed at ${result.drainPerSecond.toFixed(0)} deliveries/s\n`,
	);
	if (result.delivered < result.expected || result.invalid) process.exitCode = 1;
}

const server = await startServer({ vars: { SIMULATED_CALL_SECONDS: "1" } });
try {
	const { token } = await benchAccount(server.base);
	const context = { base: server.base, token, auth: { Authorization: `Bearer ${token}` } };
	console.log(
		`\ncallgate benchmark — ${ROUNDS} interleaved rounds of ${DURATION} s per load scenario, 10 connections, wrangler dev on loopback\n`,
	);
	if (wanted("guard")) await guardSection(context);
	if (wanted("writes")) await writesSection(context);
	if (wanted("import")) await importSection(context);
	if (wanted("webhooks")) await webhookSection(context);
	if (wanted("campaigns")) await campaignSection(context);
} finally {
	server.stop();
}
