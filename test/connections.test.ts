import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AdmitResult, TokenGuard } from "../durable-objects/token-guard";
import { hashToken } from "../workers/auth/tokens";
import { LEASE_MS, tokenGuard } from "../workers/guard/guard";
import { burst, call, newAccount } from "./helpers";

async function guardOf(token: string) {
	const tokenHash = await hashToken(token);
	const rule = { tokenHash, group: "pbx" as const, windowMs: 60_000, leaseMs: LEASE_MS };
	return Object.assign(tokenGuard(env, tokenHash), { rule });
}

async function openStream(token: string) {
	const response = await call("/api/pbx/events", { token });
	expect(response.status).toBe(200);
	expect(response.headers.get("Content-Type")).toBe("text/event-stream");
	if (!response.body) throw new Error("stream has no body");
	const reader = response.body.getReader();
	const first = new TextDecoder().decode((await reader.read()).value);
	expect(first).toContain(": connected");
	return reader;
}

const settle = async (check: () => Promise<boolean>) => {
	for (let i = 0; i < 50; i++) {
		if (await check()) return true;
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
	return false;
};

describe("concurrent connections per token", () => {
	it("20 open event streams, then the 21st request gets 429; closing one frees a slot", async () => {
		const account = await newAccount({ max_connections: 20 });
		const guard = await guardOf(account.token);
		const streams = await burst(20, () => openStream(account.token));
		expect(await guard.connectionsInFlight()).toBe(20);

		const refused = await call("/api/pbx/users", { token: account.token });
		expect(refused.status).toBe(429);
		expect(await refused.json()).toEqual({ message: "Too many concurrent connections." });
		expect(refused.headers.get("X-RateLimit-Limit")).toBe("60");

		await streams[0]?.cancel();
		expect(await settle(async () => (await guard.connectionsInFlight()) === 19)).toBe(true);
		expect((await call("/api/pbx/users", { token: account.token })).status).toBe(200);
		await Promise.all(streams.slice(1).map((stream) => stream.cancel()));
		expect(await settle(async () => (await guard.connectionsInFlight()) === 0)).toBe(true);
	});

	it("a refused connection consumes no rate budget", async () => {
		const account = await newAccount({ max_connections: 1, rate_limits: { pbx: 5 } });
		const stream = await openStream(account.token);
		const refused = await burst(10, () => call("/api/pbx/users", { token: account.token }));
		expect(refused.every((r) => r.status === 429)).toBe(true);
		await stream.cancel();
		const guard = await guardOf(account.token);
		await settle(async () => (await guard.connectionsInFlight()) === 0);
		const admitted = await call("/api/pbx/users", { token: account.token });
		expect(admitted.status).toBe(200);
		// One used by the stream, one now: 3 left of 5.
		expect(admitted.headers.get("X-RateLimit-Remaining")).toBe("3");
	});

	it("the cap holds under a concurrent burst: never more than max_connections admitted at once", async () => {
		const account = await newAccount({ max_connections: 5 });
		const guard = await guardOf(account.token);
		const { rule } = guard;
		const results = await burst(50, async (): Promise<AdmitResult> => await guard.admit(rule));
		expect(results.filter((r) => r.admitted)).toHaveLength(5);
		expect(results.filter((r) => !r.admitted && r.reason === "connections")).toHaveLength(45);
	});

	it("a slot held by a request that never finished is freed after its lease", async () => {
		const account = await newAccount({ max_connections: 2 });
		const guard = await guardOf(account.token);
		let now = Date.UTC(2026, 0, 1);
		await runInDurableObject(guard, (instance: TokenGuard) => {
			instance.clock = () => now;
		});
		const { rule } = guard;
		// Two requests that die without releasing.
		expect((await guard.admit(rule)).admitted).toBe(true);
		expect((await guard.admit(rule)).admitted).toBe(true);
		expect(await guard.admit(rule)).toMatchObject({ admitted: false, reason: "connections" });
		now += LEASE_MS - 1;
		expect(await guard.admit(rule)).toMatchObject({ admitted: false, reason: "connections" });
		now += 1;
		expect((await guard.admit(rule)).admitted).toBe(true);
	});

	it("a renewed lease (a live stream's heartbeat) keeps its slot past the lease time", async () => {
		const account = await newAccount({ max_connections: 1 });
		const guard = await guardOf(account.token);
		let now = Date.UTC(2026, 0, 1);
		await runInDurableObject(guard, (instance: TokenGuard) => {
			instance.clock = () => now;
		});
		const { rule } = guard;
		const held = await guard.admit(rule);
		if (!held.admitted) throw new Error("expected admission");
		now += LEASE_MS - 1000;
		expect(await guard.renew(held.leaseId, LEASE_MS)).toBe(true);
		now += LEASE_MS - 1000;
		expect(await guard.admit(rule)).toMatchObject({ admitted: false, reason: "connections" });
		await guard.release(held.leaseId);
		expect((await guard.admit(rule)).admitted).toBe(true);
	});

	it("ordinary requests give their slot back when they finish", async () => {
		const account = await newAccount({ max_connections: 3 });
		for (let round = 0; round < 4; round++) {
			const responses = await burst(3, () => call("/api/pbx/users", { token: account.token }));
			expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
			const guard = await guardOf(account.token);
			expect(await settle(async () => (await guard.connectionsInFlight()) === 0)).toBe(true);
		}
	});
});
