import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { TokenGuard } from "../durable-objects/token-guard";
import { LOGIN_LIMITS, type LoginBucket, loginBuckets, loginGuard } from "../workers/guard/guard";
import { call, newAccount, unique } from "./helpers";

const attempt = (username: string, password: string, ip: string) =>
	call("/api/auth/login", { body: { username, password }, headers: { "CF-Connecting-IP": ip } });

/** Counts PBKDF2 derivations (the cost a refused attempt must not pay) until restored. */
function countPasswordHashes() {
	const subtle = Object.getPrototypeOf(crypto.subtle) as SubtleCrypto;
	const original = subtle.deriveBits;
	const counter = { count: 0, restore: () => Object.assign(subtle, { deriveBits: original }) };
	subtle.deriveBits = function (this: SubtleCrypto, ...args: Parameters<SubtleCrypto["deriveBits"]>) {
		counter.count++;
		return original.apply(this, args);
	};
	restorers.push(counter.restore);
	return counter;
}

const restorers: (() => void)[] = [];
afterEach(() => {
	for (const restore of restorers.splice(0)) restore();
});

const storedHits = (bucket: LoginBucket) =>
	runInDurableObject(loginGuard(env, bucket), (_: TokenGuard, state) => {
		const tables = state.storage.sql
			.exec<{ n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'hits'")
			.one().n;
		return tables === 0 ? 0 : state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM hits").one().n;
	});

const statuses = (responses: Response[]) => responses.map((response) => response.status);

describe("login limits beyond IP and username", () => {
	it(`one IP spraying 30 usernames is refused after ${LOGIN_LIMITS.perIp} failures, without hashing a password`, async () => {
		const ip = unique("203.0.113.");
		const usernames = Array.from({ length: 30 }, () => unique("spray"));
		const hashes = countPasswordHashes();
		const admitted: Response[] = [];
		for (const username of usernames.slice(0, LOGIN_LIMITS.perIp)) admitted.push(await attempt(username, "Winter2026!", ip));
		expect(statuses(admitted)).toEqual(Array(LOGIN_LIMITS.perIp).fill(401));
		expect(hashes.count).toBe(LOGIN_LIMITS.perIp);

		const refused: Response[] = [];
		for (const username of usernames.slice(LOGIN_LIMITS.perIp)) refused.push(await attempt(username, "Winter2026!", ip));
		expect(statuses(refused)).toEqual(Array(30 - LOGIN_LIMITS.perIp).fill(429));
		expect(hashes.count).toBe(LOGIN_LIMITS.perIp);
		const last = refused.at(-1);
		const seconds = Number(last?.headers.get("Retry-After"));
		expect(seconds).toBeGreaterThanOrEqual(1);
		expect(seconds).toBeLessThanOrEqual(60);
		expect(await last?.json()).toEqual({ message: `Too many requests. Retry after ${seconds} seconds.` });
		expect(last?.headers.get("X-RateLimit-Limit")).toBe(String(LOGIN_LIMITS.perIp));

		// Refused attempts consumed nothing: their pair and username buckets hold no hit.
		const [pair, , user] = loginBuckets(ip, usernames[29] as string);
		expect(await storedHits(pair as LoginBucket)).toBe(0);
		expect(await storedHits(user as LoginBucket)).toBe(0);
	});

	it(`one username tried from 30 IPs is refused after ${LOGIN_LIMITS.perUsername} failures; its owner's right password waits too`, async () => {
		const account = await newAccount();
		const ips = Array.from({ length: 30 }, () => unique("198.18."));
		const responses: Response[] = [];
		for (const ip of ips) responses.push(await attempt(account.username, "not the password", ip));
		expect(statuses(responses)).toEqual([
			...Array(LOGIN_LIMITS.perUsername).fill(401),
			...Array(30 - LOGIN_LIMITS.perUsername).fill(429),
		]);
		expect(Number(responses.at(-1)?.headers.get("Retry-After"))).toBeGreaterThan(0);
		// The refused IPs' own buckets were given back their unit.
		expect(await storedHits(loginBuckets(ips[29] as string, account.username)[1] as LoginBucket)).toBe(0);
		expect((await attempt(account.username, account.password, unique("198.19."))).status).toBe(429);
	});

	it("successful logins do not use up the per-IP and per-username budgets (an office behind one IP)", async () => {
		const account = await newAccount();
		const ip = unique("192.0.2.x");
		for (let i = 0; i < LOGIN_LIMITS.perUsername + 5; i++) {
			// Five per pair and minute: a fresh IP for the pair, the same username.
			expect((await attempt(account.username, account.password, `${ip}${i}`)).status).toBe(200);
		}
		const [, , user] = loginBuckets(ip, account.username);
		expect(await storedHits(user as LoginBucket)).toBe(0);
		expect((await attempt(account.username, "not the password", unique("192.0.3."))).status).toBe(401);
	});

	it("a login bucket deletes its storage once its window has passed", async () => {
		const ip = unique("100.64.");
		const username = unique("gone");
		const buckets = loginBuckets(ip, username);
		let now = Date.now();
		for (const bucket of buckets) {
			await runInDurableObject(loginGuard(env, bucket), (instance: TokenGuard) => {
				instance.clock = () => now;
			});
		}
		const start = now;
		for (let i = 0; i < 3; i++) {
			expect((await attempt(username, "whatever it is", ip)).status).toBe(401);
			now += 10_000;
		}
		for (const bucket of buckets) expect(await storedHits(bucket)).toBe(3);

		// Woken before the last hit ages out, a bucket keeps its hits and waits.
		now = start + 20_000 + 59_999;
		for (const bucket of buckets) {
			expect(await runDurableObjectAlarm(loginGuard(env, bucket))).toBe(true);
			expect(await storedHits(bucket)).toBe(3);
		}
		now = start + 20_000 + 60_000;
		for (const bucket of buckets) {
			const stub = loginGuard(env, bucket);
			expect(await runDurableObjectAlarm(stub)).toBe(true);
			const left = await runInDurableObject(stub, async (_: TokenGuard, state) => ({
				tables: state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").one().n,
				alarm: await state.storage.getAlarm(),
			}));
			expect(left).toEqual({ tables: 0, alarm: null });
		}
		// An emptied bucket counts again from zero.
		expect((await attempt(username, "whatever it is", ip)).status).toBe(401);
		for (const bucket of buckets) expect(await storedHits(bucket)).toBe(1);
	});
});
