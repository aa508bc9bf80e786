import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { type RpcCounts, TokenGuard } from "../durable-objects/token-guard";
import { hashToken } from "../workers/auth/tokens";
import { leaseRelease, tokenGuard } from "../workers/guard/guard";
import { RELEASE_WAIT_MS } from "../workers/guard/release-queue";
import { call, newAccount } from "./helpers";
import { failMethod, restoreFaults } from "./support/faults";

/**
 * An answered request's lease is released by its token's next admit (one round trip per
 * request), or by itself once no admit came within `leaseRelease.waitMs`. The tests hold
 * releases for seconds where they must ride on an admit, so nothing but the admit can carry them.
 */
afterEach(() => {
	leaseRelease.waitMs = RELEASE_WAIT_MS;
	restoreFaults();
});

const guardOf = async (token: string) => tokenGuard(env, hashToken(token));

const settle = async (check: () => Promise<boolean>) => {
	for (let i = 0; i < 100; i++) {
		if (await check()) return true;
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
	return false;
};

const calls = (counts: RpcCounts, method: "admit" | "release") => counts.calls[method] ?? 0;

describe("connection slots released with the next admit", () => {
	it("30 requests one after another with max_connections 1: every one admitted, one round trip each", async () => {
		leaseRelease.waitMs = 10_000;
		const account = await newAccount({ max_connections: 1 });
		const guard = await guardOf(account.token);
		const before = await guard.rpcCounts();
		for (let i = 0; i < 30; i++) {
			const response = await call("/api/pbx/users", { token: account.token });
			// Admitted only because the admit dropped the previous request's lease before counting.
			expect(response.status).toBe(200);
		}
		const after = await guard.rpcCounts();
		expect(after.instance).toBe(before.instance);
		expect(calls(after, "admit") - calls(before, "admit")).toBe(30);
		expect(calls(after, "release") - calls(before, "release")).toBe(0);
		// The last request's lease waits for an admit that does not come.
		expect(await guard.connectionsInFlight()).toBe(1);
	});

	it("a lease no admit picks up is released by itself", async () => {
		const account = await newAccount({ max_connections: 1 });
		const guard = await guardOf(account.token);
		expect((await call("/api/pbx/users", { token: account.token })).status).toBe(200);
		expect(await settle(async () => (await guard.connectionsInFlight()) === 0)).toBe(true);
		expect(calls(await guard.rpcCounts(), "release")).toBe(1);
	});

	it("an admit that fails carrying releases sends them on their own", async () => {
		leaseRelease.waitMs = 10_000;
		const account = await newAccount({ max_connections: 1 });
		const guard = await guardOf(account.token);
		expect((await call("/api/pbx/users", { token: account.token })).status).toBe(200);
		const admits = failMethod(TokenGuard.prototype, "admit", { times: 1 });
		const failed = await call("/api/pbx/users", { token: account.token });
		expect(failed.status).toBe(500);
		expect(admits.failed).toBe(1);
		// Long before the 10 s wait: the failed admit's releases went by themselves.
		expect(await settle(async () => (await guard.connectionsInFlight()) === 0)).toBe(true);
		expect(calls(await guard.rpcCounts(), "release")).toBe(1);
		expect((await call("/api/pbx/users", { token: account.token })).status).toBe(200);
	});

	it("a release that fails waits for the token's next admit", async () => {
		const account = await newAccount({ max_connections: 1 });
		const guard = await guardOf(account.token);
		// The fault reaches every guard: first the admin's one request (newAccount) frees its slot.
		const adminGuard = await guardOf(account.adminToken);
		expect(await settle(async () => (await adminGuard.connectionsInFlight()) === 0)).toBe(true);
		const releases = failMethod(TokenGuard.prototype, "release", { times: 1 });
		expect((await call("/api/pbx/users", { token: account.token })).status).toBe(200);
		// Well past the wait: the release went, failed, and the lease waits again.
		await new Promise((resolve) => setTimeout(resolve, 10 * RELEASE_WAIT_MS));
		expect(releases.failed).toBe(1);
		expect(await guard.connectionsInFlight()).toBe(1);
		expect(calls(await guard.rpcCounts(), "release")).toBe(0);
		// The next admit carries the lease the failed release could not free, so it fits the cap.
		expect((await call("/api/pbx/users", { token: account.token })).status).toBe(200);
		expect(await settle(async () => (await guard.connectionsInFlight()) === 0)).toBe(true);
	});

	it("a burst of 40 concurrent requests against max_connections 20 never admits more than 20 at once", async () => {
		const account = await newAccount({ max_connections: 20 });
		const guard = await guardOf(account.token);
		let peak = 0;
		const spy = failMethod(TokenGuard.prototype, "admit", { times: 0 });
		const watch = setInterval(async () => {
			peak = Math.max(peak, await guard.connectionsInFlight());
		}, 2);
		const statuses: number[] = [];
		for (let wave = 0; wave < 5; wave++) {
			const responses = await Promise.all(Array.from({ length: 40 }, () => call("/api/pbx/users", { token: account.token })));
			statuses.push(...responses.map((r) => r.status));
		}
		clearInterval(watch);
		expect(spy.hits).toBe(200);
		expect(peak).toBeLessThanOrEqual(20);
		expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(20);
		expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
		expect(await settle(async () => (await guard.connectionsInFlight()) === 0)).toBe(true);
	});
});
