import { createExecutionContext, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { type AdmitResult, TokenGuard } from "../durable-objects/token-guard";
import { hashToken } from "../workers/auth/tokens";
import { LEASE_MS, RENEW_EVERY_MS, slotRenewal, tokenGuard } from "../workers/guard/guard";
import worker from "../workers/index";
import { BASE, burst, call, newAccount } from "./helpers";
import { failMethod, restoreFaults } from "./support/faults";

async function guardOf(token: string) {
	const tokenHash = hashToken(token);
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

/**
 * A stream whose client can leave the way workerd reports it over HTTP: the request's signal
 * aborts, and nothing reads or cancels the body (the Worker is called directly, so the signal
 * is the test's).
 */
async function openLeavableStream(token: string) {
	const client = new AbortController();
	const request = new Request(`${BASE}/api/pbx/events`, { headers: { Authorization: `Bearer ${token}` }, signal: client.signal });
	const response = await worker.fetch(request, env, createExecutionContext());
	expect(response.status).toBe(200);
	return { response, leave: () => client.abort() };
}

/** Real milliseconds until `attempt` succeeds, trying every 50 ms for at most `limitMs`; null if it never did. */
async function msUntil(attempt: () => Promise<boolean>, limitMs: number): Promise<number | null> {
	const started = Date.now();
	while (Date.now() - started <= limitMs) {
		if (await attempt()) return Date.now() - started;
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
	return null;
}

const streamOpens = (token: string) => async () => {
	const response = await call("/api/pbx/events", { token });
	if (response.status !== 200) return false;
	await response.body?.cancel();
	return true;
};

afterEach(() => {
	slotRenewal.everyMs = RENEW_EVERY_MS;
	restoreFaults();
});

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
		expect((await call("/api/pbx/events", { token: account.token })).status).toBe(429);

		await streams[0]?.cancel();
		const ms = await msUntil(streamOpens(account.token), 2_000);
		expect(ms).not.toBeNull();
		console.info(`a 21st stream opened ${ms} ms after a client cancelled its stream`);
		await Promise.all(streams.slice(1).map((stream) => stream.cancel()));
		expect(await settle(async () => (await guard.connectionsInFlight()) === 0)).toBe(true);
	});

	it("a client that leaves (only the request's abort signal says so) frees its slot: a 21st stream opens within 2 s", async () => {
		const account = await newAccount({ max_connections: 20 });
		const guard = await guardOf(account.token);
		const streams = await burst(20, () => openLeavableStream(account.token));
		expect(await guard.connectionsInFlight()).toBe(20);
		expect((await call("/api/pbx/events", { token: account.token })).status).toBe(429);

		streams[0]?.leave();
		const ms = await msUntil(streamOpens(account.token), 2_000);
		expect(ms).not.toBeNull();
		console.info(`a 21st stream opened ${ms} ms after a client left`);
		for (const stream of streams.slice(1)) stream.leave();
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
		expect(await guard.renew(held.leaseId, LEASE_MS, rule.tokenHash)).toBe(true);
		now += LEASE_MS - 1000;
		expect(await guard.admit(rule)).toMatchObject({ admitted: false, reason: "connections" });
		await guard.release([held.leaseId]);
		expect((await guard.admit(rule)).admitted).toBe(true);
	});

	it("a request that outlives its lease (a slow upload) keeps its slot until it finishes", async () => {
		const account = await newAccount({ max_connections: 1 });
		const guard = await guardOf(account.token);
		let now = Date.now();
		await runInDurableObject(guard, (instance: TokenGuard) => {
			instance.clock = () => now;
		});
		const leaseExpiry = () =>
			runInDurableObject(
				guard,
				(_: TokenGuard, state) =>
					state.storage.sql.exec<{ at: number | null }>("SELECT max(expires_at) AS at FROM leases").one().at,
			);
		const renewals = failMethod(TokenGuard.prototype, "renew", { times: 0 });
		// Renew every 20 real ms; the guard's clock says how much time those renewals cover.
		slotRenewal.everyMs = 20;
		const upload = new TransformStream<Uint8Array, Uint8Array>();
		const writer = upload.writable.getWriter();
		const encoder = new TextEncoder();
		const slow = call("/api/pbx/extensions", {
			method: "POST",
			token: account.token,
			headers: { "Content-Type": "application/json" },
			rawBody: upload.readable,
		});
		await writer.write(encoder.encode('{"extension": "2001", '));
		expect(await settle(async () => (await guard.connectionsInFlight()) === 1)).toBe(true);

		// Three times, most of a lease passes and a renewal pushes the lease out again.
		for (let round = 0; round < 3; round++) {
			now += LEASE_MS - 1_000;
			expect(await settle(async () => (await leaseExpiry()) === now + LEASE_MS)).toBe(true);
		}
		// 3.5 leases after admission, the upload is still running and still holds the only slot.
		now += LEASE_MS / 2;
		const refused = await call("/api/pbx/users", { token: account.token });
		expect(refused.status).toBe(429);
		expect(await refused.json()).toEqual({ message: "Too many concurrent connections." });

		await writer.write(encoder.encode('"name": "Slow upload"}'));
		await writer.close();
		expect((await slow).status).toBe(201);
		expect(await settle(async () => (await guard.connectionsInFlight()) === 0)).toBe(true);
		expect((await call("/api/pbx/users", { token: account.token })).status).toBe(200);
		// Renewing stopped with the response: ten renewal periods later, no renewal came.
		const renewed = renewals.hits;
		expect(renewed).toBeGreaterThanOrEqual(3);
		await new Promise((resolve) => setTimeout(resolve, 200));
		expect(renewals.hits).toBe(renewed);
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
