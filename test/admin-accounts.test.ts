import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { TokenGuard } from "../durable-objects/token-guard";
import { RATE_LIMIT_GROUPS, type RateLimitGroup } from "../workers/guard/rate-limit-groups";
import { burst, call, callJson, newAccount } from "./helpers";
import { failMethod, restoreFaults } from "./support/faults";

afterEach(() => restoreFaults());

interface AccountBody {
	name: string;
	rate_limits: Record<string, number>;
	max_connections: number;
}

/** RPC dispatches to the class's methods, so faults go on the prototype (shared by every guard). */
const guardPrototype = () =>
	runInDurableObject(
		env.TOKEN_GUARD.get(env.TOKEN_GUARD.idFromName(`prototype:${crypto.randomUUID()}`)),
		(guard: TokenGuard) => Object.getPrototypeOf(guard) as TokenGuard,
	);

const groups = Object.keys(RATE_LIMIT_GROUPS) as RateLimitGroup[];

describe("PATCH /api/admin/accounts/{id}", () => {
	it("concurrent PATCHes of different fields and groups lose nothing", async () => {
		const account = await newAccount({ rate_limits: { pbx: 600 } });
		const patches: Record<string, unknown>[] = [
			...groups.map((group, i) => ({ rate_limits: { [group]: 1000 + i } })),
			{ max_connections: 77 },
		];
		expect(patches.length).toBeGreaterThanOrEqual(10);
		const responses = await burst(patches.length, (i) =>
			call(`/api/admin/accounts/${account.id}`, { method: "PATCH", token: account.adminToken, body: patches[i] }),
		);
		expect(responses.map((r) => r.status)).toEqual(responses.map(() => 200));

		const stored = await callJson<AccountBody>(`/api/admin/accounts/${account.id}`, { token: account.adminToken });
		expect(stored.body.rate_limits).toEqual(Object.fromEntries(groups.map((group, i) => [group, 1000 + i])));
		expect(stored.body.max_connections).toBe(77);
	});

	it("null removes an override and leaves the others", async () => {
		const account = await newAccount({ rate_limits: { pbx: 600, telesales: 300 } });
		const patched = await callJson<AccountBody & { effective_rate_limits: Record<string, number> }>(
			`/api/admin/accounts/${account.id}`,
			{ method: "PATCH", token: account.adminToken, body: { rate_limits: { pbx: null } } },
		);
		expect(patched.status).toBe(200);
		expect(patched.body.rate_limits).toEqual({ telesales: 300 });
		expect(patched.body.effective_rate_limits.pbx).toBe(RATE_LIMIT_GROUPS.pbx);
		const stored = await callJson<AccountBody>(`/api/admin/accounts/${account.id}`, { token: account.adminToken });
		expect(stored.body.rate_limits).toEqual({ telesales: 300 });
	});

	it("a PATCH whose guards cannot be told to forget still answers 200 with the committed change", async () => {
		const account = await newAccount();
		const forget = failMethod(await guardPrototype(), "forget", { mode: "throw" });
		const patched = await callJson<AccountBody>(`/api/admin/accounts/${account.id}`, {
			method: "PATCH",
			token: account.adminToken,
			body: { name: "Renamed", rate_limits: { pbx: 90 } },
		});
		expect(forget.failed).toBeGreaterThan(0);
		expect(patched.status).toBe(200);
		expect(patched.body).toMatchObject({ name: "Renamed", rate_limits: { pbx: 90 } });
		restoreFaults();
		const stored = await callJson<AccountBody>(`/api/admin/accounts/${account.id}`, { token: account.adminToken });
		expect(stored.body).toMatchObject({ name: "Renamed", rate_limits: { pbx: 90 } });
	});

	it("a busy account: forgetting its tokens is bounded, and the PATCH answers 200", async () => {
		const account = await newAccount();
		const owner = await env.DB.prepare("SELECT user_id FROM tokens WHERE account_id = ? LIMIT 1")
			.bind(account.id)
			.first<{ user_id: string }>();
		const tokens = Array.from({ length: 600 }, (_, i) => ({
			id: crypto.randomUUID(),
			token_hash: `busy-${crypto.randomUUID()}`,
			created_at: new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString(),
		}));
		await env.DB.prepare(
			`INSERT INTO tokens (id, account_id, user_id, kind, name, token_hash, created_at)
			 SELECT value ->> '$.id', ?1, ?2, 'api', 'busy', value ->> '$.token_hash', value ->> '$.created_at' FROM json_each(?3)`,
		)
			.bind(account.id, owner?.user_id, JSON.stringify(tokens))
			.run();
		const forget = failMethod(await guardPrototype(), "forget", { times: 0 });
		const patched = await call(`/api/admin/accounts/${account.id}`, {
			method: "PATCH",
			token: account.adminToken,
			body: { rate_limits: { pbx: 90 } },
		});
		expect(patched.status).toBe(200);
		// Let the background batches finish before counting.
		await new Promise((resolve) => setTimeout(resolve, 500));
		expect(forget.hits).toBeGreaterThan(0);
		expect(forget.hits).toBeLessThanOrEqual(50);
	});
});
