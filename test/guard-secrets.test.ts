import { afterEach, describe, expect, it, vi } from "vitest";
import { BoundedMap } from "../workers/lib/bounded-map";
import { call, newAccount } from "./helpers";

/**
 * Tokens are kept only as hashes (SPEC, "Accounts and auth"): a cache that outlives its
 * request may hold a token's hash and its principal, never the secret itself — after a logout
 * it would still sit in the isolate's memory, and bogus tokens of any length sent by anyone
 * would fill it.
 */
describe("the isolate's caches and token secrets", () => {
	afterEach(() => vi.restoreAllMocks());

	it("no cache that outlives a request is handed a token's secret", async () => {
		const account = await newAccount();
		const stored: string[] = [];
		const set = BoundedMap.prototype.set;
		vi.spyOn(BoundedMap.prototype, "set").mockImplementation(function (this: BoundedMap<unknown, unknown>, key, value) {
			stored.push(JSON.stringify([key, value]));
			set.call(this, key, value);
		});
		const bogus = `cgs_${"x".repeat(64)}`;
		expect((await call("/api/auth/me", { token: account.token })).status).toBe(200);
		expect((await call("/api/auth/me", { token: account.token })).status).toBe(200);
		expect((await call("/api/auth/me", { token: bogus })).status).toBe(401);
		// The pipeline did use the caches (the principal by its token's hash): the spy saw them.
		expect(stored.length).toBeGreaterThan(0);
		for (const entry of stored) {
			expect(entry).not.toContain(account.token);
			expect(entry).not.toContain(bogus);
		}
	});
});
