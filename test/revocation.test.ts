import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { call, callJson, newAccount } from "./helpers";

type First = (this: { statement?: string }, ...args: unknown[]) => Promise<unknown>;

const restorers: (() => void)[] = [];

afterEach(() => {
	for (const restore of restorers.splice(0)) restore();
});

/**
 * Makes the next principal lookup (the token guard's D1 read of a token's row) slow: it reads
 * at once, then holds its answer until `answer()`, so a change can land in between and the
 * answer arrives stale. Patches the statement prototype, which the guard's D1 binding shares.
 */
function slowNextPrincipalLookup() {
	const prototype = Object.getPrototypeOf(env.DB.prepare("SELECT 1")) as { first: First };
	const original = prototype.first;
	let answer!: () => void;
	const held = new Promise<void>((resolve) => {
		answer = resolve;
	});
	let read!: () => void;
	const wasRead = new Promise<void>((resolve) => {
		read = resolve;
	});
	let armed = true;
	prototype.first = async function (this: { statement?: string }, ...args: unknown[]) {
		if (!armed || !this.statement?.includes("FROM tokens t JOIN users u")) return original.apply(this, args);
		armed = false;
		const row = await original.apply(this, args);
		read();
		await held;
		return row;
	};
	restorers.push(() => {
		prototype.first = original;
	});
	return { wasRead, answer };
}

describe("revocation", () => {
	it("a revocation that lands while the token's row is being read wins: later requests are 401", async () => {
		const account = await newAccount();
		const created = await callJson<{ id: string; token: string }>("/api/auth/tokens", {
			token: account.token,
			body: { name: "crm" },
		});
		expect(created.status).toBe(201);
		const apiToken = created.body.token;

		// A request with the token starts; its guard reads the row (not revoked yet) and is slow to answer.
		const slow = slowNextPrincipalLookup();
		const inFlight = call("/api/auth/me", { token: apiToken });
		await slow.wasRead;
		const revoked = await call(`/api/auth/tokens/${created.body.id}`, { method: "DELETE", token: account.token });
		expect(revoked.status).toBe(204);
		slow.answer();
		// It started before the revocation answered: either answer is right for it.
		expect([200, 401]).toContain((await inFlight).status);

		// Every request that starts after the revocation answered is refused.
		for (let i = 0; i < 3; i++) {
			const after = await call("/api/auth/me", { token: apiToken });
			expect(after.status).toBe(401);
		}
	});

	it("logout during a slow read of the same token's row: the next request with it is 401", async () => {
		const account = await newAccount();
		const slow = slowNextPrincipalLookup();
		const inFlight = call("/api/auth/me", { token: account.token });
		await slow.wasRead;
		expect((await call("/api/auth/logout", { method: "POST", token: account.token })).status).toBe(204);
		slow.answer();
		await inFlight;
		expect((await call("/api/auth/me", { token: account.token })).status).toBe(401);
	});
});
