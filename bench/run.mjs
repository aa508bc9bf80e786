// `npm run bench`: starts the local server and loads it from this second process. Scenarios
// that are compared run interleaved in the same run (bare, guarded, bare, guarded...) so that
// the ratio is measured side by side on the same noisy machine.
import { header, load, row } from "./load.mjs";
import { benchAccount, startServer } from "./server.mjs";

const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

const merge = (runs) => ({
	rps: runs.reduce((sum, r) => sum + r.rps, 0) / runs.length,
	p50: Math.max(...runs.map((r) => r.p50)),
	p99: Math.max(...runs.map((r) => r.p99)),
	non2xx: runs.reduce((sum, r) => sum + r.non2xx, 0),
	errors: runs.reduce((sum, r) => sum + r.errors, 0),
});

const server = await startServer();
try {
	const { token } = await benchAccount(server.base);
	const auth = { Authorization: `Bearer ${token}` };
	const scenarios = {
		bare: { name: "GET /health (bare)", url: `${server.base}/health` },
		guarded: { name: "GET /api/auth/me (token + guard)", url: `${server.base}/api/auth/me`, headers: auth },
		guardedDb: { name: "GET /api/pbx/users (guard + D1 query)", url: `${server.base}/api/pbx/users`, headers: auth },
	};
	const runs = Object.fromEntries(Object.keys(scenarios).map((key) => [key, []]));
	for (let round = 0; round < ROUNDS; round++) {
		for (const [key, scenario] of Object.entries(scenarios)) runs[key].push(await load({ ...scenario, duration: DURATION }));
	}
	const stats = Object.fromEntries(Object.entries(runs).map(([key, list]) => [key, merge(list)]));
	console.log(`\ncallgate benchmark — ${ROUNDS} interleaved rounds of ${DURATION} s, 10 connections, wrangler dev on loopback\n`);
	console.log([...header, ...Object.entries(scenarios).map(([key, s]) => row(s.name, stats[key]))].join("\n"));
	const { bare, guarded } = stats;
	console.log(
		`\nguarded/bare throughput: ${(guarded.rps / bare.rps).toFixed(2)}   p50 guarded−bare: ${(guarded.p50 - bare.p50).toFixed(0)} ms`,
	);
} finally {
	server.stop();
}
