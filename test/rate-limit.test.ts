import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { TokenGuard } from "../durable-objects/token-guard";
import { hashToken } from "../workers/auth/tokens";
import { tokenGuard } from "../workers/guard/guard";
import { burst, call, callJson, newAccount } from "./helpers";

/** Puts the token's guard on a clock the test moves by hand. */
async function fakeClock(token: string, start: number) {
	const stub = tokenGuard(env, hashToken(token));
	let now = start;
	await runInDurableObject(stub, (guard: TokenGuard) => {
		guard.clock = () => now;
	});
	return { set: (ms: number) => (now = ms), stub };
}

describe("per-token sliding-window rate limits", () => {
	it("a burst of 100 concurrent requests against a 60/min group admits exactly 60", async () => {
		const account = await newAccount();
		const responses = await burst(100, () => call("/api/pbx/users", { token: account.token }));
		const statuses = responses.map((r) => r.status);
		expect(statuses.filter((s) => s === 200)).toHaveLength(60);
		expect(statuses.filter((s) => s === 429)).toHaveLength(40);
		const remaining = responses.filter((r) => r.status === 200).map((r) => Number(r.headers.get("X-RateLimit-Remaining")));
		expect(new Set(remaining).size).toBe(60);
		expect(Math.min(...remaining)).toBe(0);
		const refused = responses.find((r) => r.status === 429);
		expect(refused?.headers.get("X-RateLimit-Remaining")).toBe("0");
		const seconds = Number(refused?.headers.get("Retry-After"));
		expect(seconds).toBeGreaterThanOrEqual(1);
		expect(seconds).toBeLessThanOrEqual(60);
		expect(await refused?.json()).toEqual({ message: `Too many requests. Retry after ${seconds} seconds.` });
	});

	it("the window's count is exact across the guard's eviction and as hits age out one by one", async () => {
		const account = await newAccount();
		const start = Date.UTC(2026, 0, 1);
		const clock = await fakeClock(account.token, start);
		for (let i = 0; i < 40; i++) {
			clock.set(start + i * 1000);
			expect((await call("/api/pbx/users", { token: account.token })).status).toBe(200);
		}
		// The count kept in memory is gone with the object; the table has it.
		await evictDurableObject(clock.stub);
		const again = await fakeClock(account.token, start + 40_000);
		const statuses = (await burst(30, () => call("/api/pbx/users", { token: account.token }))).map((r) => r.status);
		expect(statuses.filter((s) => s === 200)).toHaveLength(20);
		// 60 s after the first hit it ages out and exactly one unit comes back, then another a second later.
		again.set(start + 60_000);
		const next = await burst(3, () => call("/api/pbx/users", { token: account.token }));
		expect(next.map((r) => r.status).sort()).toEqual([200, 429, 429]);
		again.set(start + 61_000);
		const last = await burst(3, () => call("/api/pbx/users", { token: account.token }));
		expect(last.map((r) => r.status).sort()).toEqual([200, 429, 429]);
	});

	it("several hits aging out at once give back exactly that many units", async () => {
		const account = await newAccount({ rate_limits: { pbx: 5 } });
		const start = Date.UTC(2026, 0, 1, 12);
		const clock = await fakeClock(account.token, start);
		for (let i = 0; i < 5; i++) {
			clock.set(start + i);
			expect((await call("/api/pbx/users", { token: account.token })).status).toBe(200);
		}
		clock.set(start + 60_010);
		const statuses = (await burst(12, () => call("/api/pbx/users", { token: account.token }))).map((r) => r.status);
		expect(statuses.filter((s) => s === 200)).toHaveLength(5);
	});

	it("separate tokens and separate groups have separate buckets", async () => {
		const account = await newAccount();
		const second = await callJson<{ token: string }>("/api/auth/tokens", { token: account.token, body: { name: "crm" } });
		await burst(60, () => call("/api/pbx/users", { token: account.token }));
		expect((await call("/api/pbx/users", { token: account.token })).status).toBe(429);
		expect((await call("/api/pbx/users", { token: second.body.token })).status).toBe(200);
		const auth = await call("/api/auth/me", { token: account.token });
		expect(auth.status).toBe(200);
		expect(auth.headers.get("X-RateLimit-Limit")).toBe("30");
	});

	it("raised account limits apply at once, even to a token whose guard has cached the old ones", async () => {
		const account = await newAccount();
		expect((await call("/api/pbx/users", { token: account.token })).headers.get("X-RateLimit-Limit")).toBe("60");
		const patched = await callJson(`/api/admin/accounts/${account.id}`, {
			method: "PATCH",
			token: account.adminToken,
			body: { rate_limits: { pbx: 75 } },
		});
		expect(patched.status).toBe(200);
		const responses = await burst(100, () => call("/api/pbx/users", { token: account.token }));
		expect(responses.filter((r) => r.status === 200)).toHaveLength(74);
		expect(responses[0]?.headers.get("X-RateLimit-Limit")).toBe("75");
	});

	it("the window slides: capacity returns one request at a time as old requests age out", async () => {
		const account = await newAccount({ rate_limits: { pbx: 3 } });
		const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);
		const clock = await fakeClock(account.token, t0);
		const get = () => call("/api/pbx/users", { token: account.token });

		for (const offset of [0, 10_000, 20_000]) {
			clock.set(t0 + offset);
			expect((await get()).status).toBe(200);
		}
		clock.set(t0 + 30_000);
		const refused = await get();
		expect(refused.status).toBe(429);
		// The first hit (t0) ages out at t0 + 60 s: 30 s from now.
		expect(refused.headers.get("Retry-After")).toBe("30");
		expect(refused.headers.get("X-RateLimit-Reset")).toBe(String((t0 + 80_000) / 1000));
		expect(refused.headers.get("RateLimit-Policy")).toBe('"pbx";q=3;w=60, "connections";q=1000;qu="concurrent-requests"');
		expect(refused.headers.get("RateLimit")).toBe('"pbx";r=0;t=50');

		clock.set(t0 + 59_999);
		expect((await get()).status).toBe(429);
		clock.set(t0 + 60_000);
		const admitted = await get();
		expect(admitted.status).toBe(200);
		expect(admitted.headers.get("X-RateLimit-Remaining")).toBe("0");
		expect(admitted.headers.get("X-RateLimit-Reset")).toBe(String((t0 + 120_000) / 1000));
		// Only one unit came back; the next waits for the t0 + 10 s hit.
		const next = await get();
		expect(next.status).toBe(429);
		expect(next.headers.get("Retry-After")).toBe("10");
		clock.set(t0 + 70_000);
		expect((await get()).status).toBe(200);
	});

	it("Retry-After is never early: a retry after exactly that many seconds is admitted", async () => {
		const account = await newAccount({ rate_limits: { pbx: 2 } });
		const t0 = Date.UTC(2026, 0, 1, 12, 0, 0) + 437; // off a whole second on purpose
		const clock = await fakeClock(account.token, t0);
		const get = () => call("/api/pbx/users", { token: account.token });
		await get();
		clock.set(t0 + 1234);
		await get();
		clock.set(t0 + 5678);
		const refused = await get();
		const seconds = Number(refused.headers.get("Retry-After"));
		clock.set(t0 + 5678 + seconds * 1000 - 1000);
		expect((await get()).status).toBe(429);
		clock.set(t0 + 5678 + seconds * 1000);
		expect((await get()).status).toBe(200);
	});

	it("refused requests consume no budget", async () => {
		const account = await newAccount({ rate_limits: { pbx: 1 } });
		const t0 = Date.UTC(2026, 0, 1);
		const clock = await fakeClock(account.token, t0);
		await call("/api/pbx/users", { token: account.token });
		for (let i = 1; i <= 5; i++) {
			clock.set(t0 + i * 10_000);
			expect((await call("/api/pbx/users", { token: account.token })).status).toBe(429);
		}
		clock.set(t0 + 60_000);
		expect((await call("/api/pbx/users", { token: account.token })).status).toBe(200);
	});

	it("every response to a token-bearing request carries the rate-limit headers, errors too", async () => {
		const account = await newAccount();
		const notFound = await call(`/api/admin/accounts/${crypto.randomUUID()}`, { token: account.token });
		expect(notFound.status).toBe(403);
		expect(notFound.headers.get("X-RateLimit-Limit")).toBe("30");
		expect(Number(notFound.headers.get("X-RateLimit-Reset"))).toBeGreaterThan(Date.now() / 1000);
	});

	it("RateLimit-Policy advertises the account's connection cap as a concurrent-requests quota", async () => {
		const account = await newAccount({ max_connections: 7 });
		const policy = async () => (await call("/api/telesales/campaigns", { token: account.token })).headers.get("RateLimit-Policy");
		expect(await policy()).toBe('"telesales";q=120;w=60, "connections";q=7;qu="concurrent-requests"');
		const raised = await callJson(`/api/admin/accounts/${account.id}`, {
			method: "PATCH",
			token: account.adminToken,
			body: { max_connections: 100 },
		});
		expect(raised.status).toBe(200);
		expect(await policy()).toBe('"telesales";q=120;w=60, "connections";q=100;qu="concurrent-requests"');
	});
});

describe("login brute-force protection", () => {
	it("allows 5 attempts per minute per IP and username, then 429", async () => {
		const account = await newAccount();
		const attempt = (ip: string, password: string) =>
			call("/api/auth/login", { body: { username: account.username, password }, headers: { "CF-Connecting-IP": ip } });
		const wrong = await burst(8, () => attempt("198.51.100.7", "wrong password!"));
		expect(wrong.map((r) => r.status).sort()).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
		// Even the right password waits now, from that IP.
		const blocked = await attempt("198.51.100.7", account.password);
		expect(blocked.status).toBe(429);
		expect(Number(blocked.headers.get("Retry-After"))).toBeGreaterThan(0);
		// Another IP is another bucket.
		expect((await attempt("198.51.100.8", account.password)).status).toBe(200);
	});
});
