// `npm run bench`: starts the local server and loads it from this second process. Scenarios
// that are compared run interleaved in the same run (bare, guarded, bare, guarded...) so that
// their ratios are measured side by side on the same noisy machine.
import { randomUUID } from "node:crypto";
import { header, load, row } from "./load.mjs";
import { api, benchAccount, startServer } from "./server.mjs";

const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

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

async function bulkImportRate(base, token, rows = 10_000, repeats = 3) {
	const leads = Array.from({ length: rows }, (_, i) => ({ phone: `09${String(10_000_000 + i).slice(-8)}`, name: `Lead ${i}` }));
	const rates = [];
	for (let i = 0; i < repeats; i++) {
		const campaign = await api(base, "/api/telesales/campaigns", { token, body: { name: `Import ${i}` } });
		const started = performance.now();
		const report = await api(base, `/api/telesales/campaigns/${campaign.body.id}/leads/bulk-import`, { token, body: { leads } });
		const seconds = (performance.now() - started) / 1000;
		if (report.status !== 201 || report.body.created !== rows) throw new Error(`import failed: ${report.status}`);
		rates.push({ seconds, rowsPerSecond: rows / seconds });
	}
	return rates;
}

const server = await startServer();
try {
	const { token } = await benchAccount(server.base);
	const auth = { Authorization: `Bearer ${token}` };
	await api(server.base, "/api/pbx/extensions", { token, body: { extension: "1001", name: "Bench" } });
	const callBody = JSON.stringify({ from_extension: "1001", to_phone: "0987654321" });
	const post = { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: callBody };
	const replayKey = randomUUID();
	await api(server.base, "/api/pbx/calls/click-to-call", {
		token,
		body: JSON.parse(callBody),
		headers: { "Idempotency-Key": replayKey },
	});

	console.log(
		`\ncallgate benchmark — ${ROUNDS} interleaved rounds of ${DURATION} s per scenario, 10 connections, wrangler dev on loopback\n`,
	);
	console.log("## The guard\n");
	const guard = await interleaved({
		bare: { name: "GET /health (bare)", url: `${server.base}/health` },
		guarded: { name: "GET /api/auth/me (token + guard)", url: `${server.base}/api/auth/me`, headers: auth },
		guardedDb: { name: "GET /api/pbx/users (guard + D1 query)", url: `${server.base}/api/pbx/users`, headers: auth },
	});
	console.log(
		`\nguarded/bare throughput: ${(guard.guarded.rps / guard.bare.rps).toFixed(2)}   p50 guarded − bare: ${guard.guarded.p50 - guard.bare.p50} ms\n`,
	);

	console.log("## Idempotent writes (POST /api/pbx/calls/click-to-call)\n");
	const writes = await interleaved({
		plain: { name: "POST, no key", url: `${server.base}/api/pbx/calls/click-to-call`, ...post },
		keyed: {
			name: "POST, new Idempotency-Key each",
			url: `${server.base}/api/pbx/calls/click-to-call`,
			...post,
			requests: [
				{ setupRequest: (request) => ({ ...request, headers: { ...request.headers, "Idempotency-Key": randomUUID() } }) },
			],
		},
		replay: {
			name: "POST, replay of one key",
			url: `${server.base}/api/pbx/calls/click-to-call`,
			...post,
			headers: { ...post.headers, "Idempotency-Key": replayKey },
		},
	});
	console.log(
		`\nkeyed/plain throughput: ${(writes.keyed.rps / writes.plain.rps).toFixed(2)}   replay/plain: ${(writes.replay.rps / writes.plain.rps).toFixed(2)}\n`,
	);

	console.log("## Bulk import (10,000 leads per request, fresh campaign each)\n");
	for (const { seconds, rowsPerSecond } of await bulkImportRate(server.base, token)) {
		console.log(`- ${seconds.toFixed(2)} s → ${Math.round(rowsPerSecond).toLocaleString("en-US")} rows/s`);
	}
} finally {
	server.stop();
}
