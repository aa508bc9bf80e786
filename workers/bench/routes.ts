import { z } from "zod";
import { bearerToken, hashToken } from "../auth/tokens";
import { tokenGuard } from "../guard/guard";
import { unauthorized } from "../http/errors";
import { json } from "../http/responses";
import { publicRoute, type Route } from "../routing/route";

/** Set by `bench/server.mjs` (`--var BENCH_ROUTES:1`); in no wrangler.toml environment. */
type BenchEnv = Env & { BENCH_ROUTES?: string };

/**
 * Whether the bench-only routes answer: only when the benchmark's server asked for them, and
 * never on a production deployment, even one started with the variable by mistake.
 */
export const benchRoutesEnabled = (env: Env) => (env as BenchEnv).BENCH_ROUTES === "1" && env.ENVIRONMENT !== "production";

/**
 * One object, like the guard's one object per token (the benchmark loads with one token):
 * a fixed name, found with `idFromName` on each request as the guard's is.
 */
export const BENCH_FLOOR_NAME = "floor";
const floor = (env: Env) => env.BENCH_FLOOR.get(env.BENCH_FLOOR.idFromName(BENCH_FLOOR_NAME));

const ok = { 200: { description: "OK", schema: z.object({ ok: z.literal(true) }) } };

/**
 * The guard's floors, public routes in the same pipeline as `GET /health` (matched among all
 * the routes, no token, no D1), plus exactly one Durable Object round trip; and the guard's
 * RPC counts, for the round trips per guarded request. Not in `routes`, so never in the
 * OpenAPI document; `workers/index.ts` serves them only when `benchRoutesEnabled`.
 */
export const benchRoutes: Route[] = [
	publicRoute({
		method: "GET",
		path: "/__bench/rpc-noop",
		summary: "Benchmark floor: one no-op Durable Object RPC.",
		tags: ["bench"],
		responses: ok,
		handler: async ({ env }) => {
			await floor(env).noop();
			return json({ ok: true });
		},
	}),
	publicRoute({
		method: "GET",
		path: "/__bench/rpc-write",
		summary: "Benchmark floor: one Durable Object RPC that writes one SQLite row.",
		tags: ["bench"],
		responses: ok,
		handler: async ({ env }) => {
			await floor(env).write();
			return json({ ok: true });
		},
	}),
	publicRoute({
		method: "GET",
		path: "/__bench/guard-stats",
		summary: "The RPC calls the bearer token's guard object received since it was loaded, by method.",
		tags: ["bench"],
		responses: { 200: { description: "Counts", schema: z.record(z.string(), z.unknown()) } },
		handler: async ({ env, request }) => {
			const secret = bearerToken(request);
			if (!secret) throw unauthorized();
			return json(await tokenGuard(env, hashToken(secret)).rpcCounts());
		},
	}),
];
