import { afterEach, describe, expect, it } from "vitest";
import { call, countRows, newAccount } from "./helpers";

const attempt = (username: string, password: string, ip: string) =>
	call("/api/auth/login", { body: { username, password }, headers: { "CF-Connecting-IP": ip } });

const restorers: (() => void)[] = [];
afterEach(() => {
	for (const restore of restorers.splice(0)) restore();
});

/** Counts PBKDF2 derivations (as test/login-limits.test.ts does). */
function countPasswordHashes() {
	const subtle = Object.getPrototypeOf(crypto.subtle) as SubtleCrypto;
	const original = subtle.deriveBits;
	const counter = { count: 0 };
	subtle.deriveBits = function (this: SubtleCrypto, ...args: Parameters<SubtleCrypto["deriveBits"]>) {
		counter.count++;
		return original.apply(this, args);
	};
	restorers.push(() => Object.assign(subtle, { deriveBits: original }));
	return counter;
}

describe("login buckets and IPv6", () => {
	it("one /64 logging into one username is held to the 5/min pair limit, successes included, however many of its addresses it uses", async () => {
		const account = await newAccount();
		const prefix = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:1`;
		const hashes = countPasswordHashes();
		const statuses: number[] = [];
		// One subscriber's /64, one client: each address a new pair would make successes unlimited.
		for (let i = 1; i <= 30; i++)
			statuses.push((await attempt(account.username, account.password, `${prefix}::${i.toString(16)}`)).status);
		expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(5);
		// Each admitted success paid a full PBKDF2 and stored a session token.
		expect(hashes.count).toBeLessThanOrEqual(5);
		expect(
			await countRows("tokens", "user_id = (SELECT id FROM users WHERE username = ?)", account.username),
		).toBeLessThanOrEqual(6);
	});
});
