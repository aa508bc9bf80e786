import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hashPassword, verifyPassword } from "../workers/auth/passwords";
import { hashToken } from "../workers/auth/tokens";
import { call, callJson, newAccount, unique } from "./helpers";

const login = (username: string, password: string) =>
	callJson<{ token: string; token_type: string; expires_at: string }>("/api/auth/login", {
		body: { username, password },
		headers: { "CF-Connecting-IP": unique("203.0.113.") },
	});

describe("login and tokens", () => {
	it("the bootstrap admin logs in with the local defaults", async () => {
		const { status, body } = await login("admin", "admin-password");
		expect(status).toBe(200);
		expect(body.token_type).toBe("Bearer");
		expect(Date.parse(body.expires_at)).toBeGreaterThan(Date.now());
		const me = await callJson<{ user: { role: string } }>("/api/auth/me", { token: body.token });
		expect(me.body.user.role).toBe("platform_admin");
	});

	it("wrong password and unknown user are both 401 with the same message", async () => {
		const account = await newAccount();
		const wrong = await login(account.username, "not the password");
		const unknown = await login(unique("nobody"), "whatever it is");
		expect(wrong.status).toBe(401);
		expect(unknown.status).toBe(401);
		expect(wrong.body).toEqual(unknown.body);
		expect(wrong.body).toHaveProperty("message");
	});

	it("junk, missing, revoked and expired tokens are 401", async () => {
		const account = await newAccount();
		const variants: Record<string, string>[] = [
			{},
			{ Authorization: "Bearer junk" },
			{ Authorization: "Basic abc" },
			{ Authorization: "Bearer " },
		];
		for (const headers of variants) {
			const { status, body } = await callJson("/api/auth/me", { headers });
			expect(status).toBe(401);
			expect(body).toHaveProperty("message");
		}
		const session = await login(account.username, account.password);
		expect((await call("/api/auth/logout", { method: "POST", token: session.body.token })).status).toBe(204);
		expect((await call("/api/auth/me", { token: session.body.token })).status).toBe(401);

		await env.DB.prepare("UPDATE tokens SET expires_at = ? WHERE token_hash = ?")
			.bind(new Date(Date.now() - 1000).toISOString(), hashToken(account.token))
			.run();
		expect((await call("/api/auth/me", { token: account.token })).status).toBe(401);
	});

	it("tokens and passwords are stored only as hashes", async () => {
		const account = await newAccount();
		const row = await env.DB.prepare("SELECT password_hash FROM users WHERE username = ?")
			.bind(account.username)
			.first<{ password_hash: string }>();
		expect(row?.password_hash).toMatch(/^pbkdf2-sha256\$\d+\$[0-9a-f]{32}\$[0-9a-f]{64}$/);
		expect(row?.password_hash).not.toContain(account.password);
		const tokens = await env.DB.prepare("SELECT token_hash FROM tokens").all<{ token_hash: string }>();
		expect(tokens.results.some((t) => t.token_hash === account.token)).toBe(false);
		expect(tokens.results.some((t) => t.token_hash.includes(account.token))).toBe(false);
	});

	it("PBKDF2 at full strength verifies the right password only", async () => {
		const stored = await hashPassword("s3cret-passphrase", 100_000);
		expect(stored.startsWith("pbkdf2-sha256$100000$")).toBe(true);
		expect(await verifyPassword("s3cret-passphrase", stored)).toBe(true);
		expect(await verifyPassword("s3cret-passphrasE", stored)).toBe(false);
		expect(await verifyPassword("anything", "garbage")).toBe(false);
	});

	it("named API tokens: secret shown once, listed without it, revocable, scoped to the account", async () => {
		const account = await newAccount();
		const other = await newAccount();
		const created = await callJson<{ id: string; token: string; name: string }>("/api/auth/tokens", {
			token: account.token,
			body: { name: "HubSpot", expires_in_days: 30 },
		});
		expect(created.status).toBe(201);
		expect(created.body.token).toMatch(/^cgk_/);
		expect((await call("/api/auth/me", { token: created.body.token })).status).toBe(200);

		const list = await callJson<{ data: Record<string, unknown>[]; next_cursor: string | null }>("/api/auth/tokens", {
			token: account.token,
		});
		expect(list.body.data).toHaveLength(1);
		expect(list.body.data[0]).not.toHaveProperty("token");
		expect(list.body.next_cursor).toBeNull();
		expect((await callJson<{ data: unknown[] }>("/api/auth/tokens", { token: other.token })).body.data).toHaveLength(0);

		expect((await call(`/api/auth/tokens/${created.body.id}`, { method: "DELETE", token: other.token })).status).toBe(404);
		expect((await call(`/api/auth/tokens/not-a-uuid`, { method: "DELETE", token: account.token })).status).toBe(404);
		expect((await call(`/api/auth/tokens/${created.body.id}`, { method: "DELETE", token: account.token })).status).toBe(204);
		expect((await call("/api/auth/me", { token: created.body.token })).status).toBe(401);
	});

	it("token lists are cursor-paginated without skips or repeats", async () => {
		const account = await newAccount();
		for (let i = 0; i < 5; i++) await call("/api/auth/tokens", { token: account.token, body: { name: `t${i}` } });
		const seen: string[] = [];
		let cursor: string | null = null;
		do {
			const path: string = `/api/auth/tokens?limit=2${cursor ? `&cursor=${cursor}` : ""}`;
			const pageResult = await callJson<{ data: { name: string }[]; next_cursor: string | null }>(path, { token: account.token });
			seen.push(...pageResult.body.data.map((t) => t.name));
			cursor = pageResult.body.next_cursor;
		} while (cursor);
		expect(seen.sort()).toEqual(["t0", "t1", "t2", "t3", "t4"]);
		expect((await call("/api/auth/tokens?cursor=%%%", { token: account.token })).status).toBe(400);
		expect((await call("/api/auth/tokens?limit=0", { token: account.token })).status).toBe(422);
	});
});

describe("platform admin", () => {
	it("only a platform admin manages accounts", async () => {
		const account = await newAccount();
		const { status, body } = await callJson("/api/admin/accounts", {
			token: account.token,
			body: { name: "x", username: unique("u"), password: "long enough password" },
		});
		expect(status).toBe(403);
		expect(body).toHaveProperty("message");
	});

	it("creates accounts with a default region and limits, rejects bad ones and duplicate usernames", async () => {
		const account = await newAccount({ default_region: "vn", rate_limits: { pbx: 600 } });
		const got = await callJson<{ default_region: string; effective_rate_limits: Record<string, number> }>(
			`/api/admin/accounts/${account.id}`,
			{
				token: account.adminToken,
			},
		);
		expect(got.body.default_region).toBe("VN");
		expect(got.body.effective_rate_limits).toMatchObject({ pbx: 600, telesales: 120, "click-to-call": 10 });

		const bad = await callJson<{ errors: Record<string, string[]> }>("/api/admin/accounts", {
			token: account.adminToken,
			body: { name: "x", username: unique("u"), password: "short", default_region: "XX", rate_limits: { nope: 5, pbx: -1 } },
		});
		expect(bad.status).toBe(422);
		expect(Object.keys(bad.body.errors)).toEqual(expect.arrayContaining(["password", "default_region"]));

		const duplicate = await callJson("/api/admin/accounts", {
			token: account.adminToken,
			body: { name: "x", username: account.username.toUpperCase(), password: "long enough password" },
		});
		expect(duplicate.status).toBe(409);
	});

	it("PATCH merges rate limits; null drops an override; unknown accounts are 404", async () => {
		const account = await newAccount({ rate_limits: { pbx: 600, telesales: 300 } });
		const patched = await callJson<{ rate_limits: Record<string, number> }>(`/api/admin/accounts/${account.id}`, {
			method: "PATCH",
			token: account.adminToken,
			body: { rate_limits: { pbx: null, autocall: 500 }, max_connections: 100 },
		});
		expect(patched.body.rate_limits).toEqual({ telesales: 300, autocall: 500 });
		const me = await callJson<{ account: { max_connections: number } }>("/api/auth/me", { token: account.token });
		expect(me.body.account.max_connections).toBe(100);
		const missing = await call(`/api/admin/accounts/${crypto.randomUUID()}`, {
			method: "PATCH",
			token: account.adminToken,
			body: { name: "y" },
		});
		expect(missing.status).toBe(404);
	});
});
