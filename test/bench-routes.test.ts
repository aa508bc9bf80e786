import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { BenchFloor } from "../durable-objects/bench-floor";
import type { RpcCounts } from "../durable-objects/token-guard";
import { BENCH_FLOOR_NAME } from "../workers/bench/routes";
import worker from "../workers/index";
import { BASE, newAccount } from "./helpers";

const BENCH_PATHS = ["/__bench/rpc-noop", "/__bench/rpc-write", "/__bench/guard-stats"];

/** The Worker's fetch handler with the environment a test gives it, waiting for its waitUntil work. */
async function fetchWith(settings: Record<string, string | undefined>, path: string, headers: Record<string, string> = {}) {
	const ctx = createExecutionContext();
	const response = await worker.fetch(new Request(`${BASE}${path}`, { headers }), { ...env, ...settings } as Env, ctx);
	await waitOnExecutionContext(ctx);
	return response;
}

const benchServer = { BENCH_ROUTES: "1" };

const floorRows = () =>
	runInDurableObject(
		env.BENCH_FLOOR.get(env.BENCH_FLOOR.idFromName(BENCH_FLOOR_NAME)),
		(_floor: BenchFloor, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM writes").one().n,
	);

describe("bench-only routes", () => {
	it("answer when the bench server sets BENCH_ROUTES", async () => {
		for (const path of ["/__bench/rpc-noop", "/__bench/rpc-write"]) {
			const response = await fetchWith(benchServer, path);
			expect(response.status, path).toBe(200);
			expect(await response.json()).toEqual({ ok: true });
		}
	});

	it("are 404 without the variable, with another value, and on a production deployment even with it", async () => {
		expect("BENCH_ROUTES" in env).toBe(false);
		const settings = [{}, { BENCH_ROUTES: "0" }, { BENCH_ROUTES: "1", ENVIRONMENT: "production" }];
		for (const setting of settings) {
			for (const path of BENCH_PATHS) {
				const response = await fetchWith(setting, path);
				expect(response.status, `${path} ${JSON.stringify(setting)}`).toBe(404);
				await response.body?.cancel();
			}
		}
	});

	it("are not in /openapi.json, even on the bench server", async () => {
		for (const setting of [{}, benchServer]) {
			const response = await fetchWith(setting, "/openapi.json");
			expect(response.status).toBe(200);
			const document = await response.json<{ paths: Record<string, unknown> }>();
			expect(Object.keys(document.paths).length).toBeGreaterThan(10);
			expect(Object.keys(document.paths).filter((path) => path.includes("bench"))).toEqual([]);
			expect(JSON.stringify(document)).not.toContain("__bench");
		}
	});

	it("the write floor writes exactly one row per request, the no-op floor none", async () => {
		// Loads the object (its table) first.
		expect((await fetchWith(benchServer, "/__bench/rpc-noop")).status).toBe(200);
		const start = await floorRows();
		expect((await fetchWith(benchServer, "/__bench/rpc-write")).status).toBe(200);
		expect(await floorRows()).toBe(start + 1);
		for (let i = 0; i < 3; i++) expect((await fetchWith(benchServer, "/__bench/rpc-write")).status).toBe(200);
		expect(await floorRows()).toBe(start + 4);
		expect((await fetchWith(benchServer, "/__bench/rpc-noop")).status).toBe(200);
		expect(await floorRows()).toBe(start + 4);
	});

	it("guard-stats counts the token's guard RPCs: admit and release once per guarded request", async () => {
		const { token } = await newAccount();
		const auth = { Authorization: `Bearer ${token}` };
		const read = async () => {
			const response = await fetchWith(benchServer, "/__bench/guard-stats", auth);
			expect(response.status).toBe(200);
			return response.json<RpcCounts>();
		};
		const before = await read();
		for (let i = 0; i < 5; i++) {
			// fetchWith waits for the release the Worker sends after the answer (waitUntil).
			const response = await fetchWith(benchServer, "/api/auth/me", auth);
			expect(response.status).toBe(200);
			await response.body?.cancel();
		}
		const after = await read();
		expect(after.instance).toBe(before.instance);
		const delta = Object.fromEntries(
			Object.entries(after.calls)
				.map(([method, n]) => [method, (n ?? 0) - (before.calls[method as keyof RpcCounts["calls"]] ?? 0)])
				.filter(([, n]) => n !== 0),
		);
		expect(delta).toEqual({ admit: 5, release: 5 });
		// Reading the counts is not a counted call.
		expect(await read()).toEqual(after);
		expect((await fetchWith(benchServer, "/__bench/guard-stats")).status).toBe(401);
	});
});
