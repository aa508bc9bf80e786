import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../workers/app";
import { hashPassword } from "../workers/auth/passwords";
import { RATE_LIMIT_GROUPS } from "../workers/guard/rate-limit-groups";
import { routes } from "../workers/routes";
import { BASE, burst, call, callJson, newAccount, type TestAccount, unique } from "./helpers";

interface Settings {
	id: string;
	name: string;
	default_region: string;
	agent_answer_url: string | null;
	max_connections: number;
	effective_rate_limits: Record<string, number>;
	created_at: string;
	updated_at: string;
}

interface ErrorBody {
	message: string;
	errors?: Record<string, string[]>;
}

const settings = (token: string, headers: Record<string, string> = {}) => callJson<Settings>("/api/account", { token, headers });

const patchSettings = (token: string, body: unknown, headers: Record<string, string> = {}) =>
	callJson<Settings & ErrorBody>("/api/account", { method: "PATCH", token, body, headers });

/** A second user of the account, with the member role (no API creates one yet). */
async function memberOf(account: TestAccount): Promise<string> {
	const username = unique("member");
	const password = "member password 1";
	const now = new Date().toISOString();
	await env.DB.prepare(
		"INSERT INTO users (id, account_id, username, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, 'member', ?, ?)",
	)
		.bind(crypto.randomUUID(), account.id, username, await hashPassword(password, 1000), now, now)
		.run();
	const login = await callJson<{ token: string }>("/api/auth/login", {
		body: { username, password },
		headers: { "CF-Connecting-IP": unique("10.2.0.") },
	});
	expect(login.status).toBe(200);
	return login.body.token;
}

/** The API as deployed with ENVIRONMENT=production (tests otherwise run as development). */
async function patchInProduction(token: string, body: unknown) {
	const ctx = createExecutionContext();
	const response = await createApp(routes)(
		new Request(`${BASE}/api/account`, {
			method: "PATCH",
			headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
			body: JSON.stringify(body),
		}),
		{ ...env, ENVIRONMENT: "production" },
		ctx,
	);
	await waitOnExecutionContext(ctx);
	return { status: response.status, body: (await response.json()) as Settings & ErrorBody };
}

describe("GET /api/account", () => {
	it("shows the caller's own account field by field, with an ETag and 304 on If-None-Match", async () => {
		const account = await newAccount({ default_region: "VN", rate_limits: { pbx: 600 }, max_connections: 50 });
		const got = await settings(account.token);
		expect(got.status).toBe(200);
		expect(Object.keys(got.body).sort()).toEqual(
			[
				"id",
				"name",
				"default_region",
				"agent_answer_url",
				"max_connections",
				"effective_rate_limits",
				"created_at",
				"updated_at",
			].sort(),
		);
		expect(got.body).toMatchObject({
			id: account.id,
			name: `Account ${account.username}`,
			default_region: "VN",
			agent_answer_url: null,
			max_connections: 50,
		});
		expect(got.body.effective_rate_limits).toEqual({ ...RATE_LIMIT_GROUPS, pbx: 600 });
		// Its own bucket, named in the IETF policy header.
		expect(got.response.headers.get("RateLimit-Policy")).toContain(`"account";q=${RATE_LIMIT_GROUPS.account};w=60`);
		const etag = got.response.headers.get("ETag") ?? "";
		expect(etag).toMatch(/^"v\d+"$/);
		const again = await call("/api/account", { token: account.token, headers: { "If-None-Match": etag } });
		expect(again.status).toBe(304);
		expect(again.headers.get("ETag")).toBe(etag);
	});

	it("members may read the settings but not change them (403, nothing stored)", async () => {
		const account = await newAccount();
		const member = await memberOf(account);
		const got = await settings(member);
		expect(got.status).toBe(200);
		expect(got.body.id).toBe(account.id);
		const refused = await patchSettings(member, { agent_answer_url: "https://agents.example.com/answer" });
		expect(refused.status).toBe(403);
		expect(refused.body.message).toBe("Only the account's owner can change its settings.");
		expect((await settings(account.token)).body.agent_answer_url).toBeNull();
	});

	it("needs a token", async () => {
		expect((await call("/api/account")).status).toBe(401);
		expect((await call("/api/account", { method: "PATCH", body: { name: "x" } })).status).toBe(401);
	});
});

describe("PATCH /api/account", () => {
	it("sets agent_answer_url and the name, changes the ETag, and null clears the URL", async () => {
		const account = await newAccount();
		const before = await settings(account.token);
		const url = "https://agents.example.com/callgate/answer?tenant=7";
		const patched = await patchSettings(account.token, { agent_answer_url: url, name: "  Acme Sales  " });
		expect(patched.status).toBe(200);
		expect(patched.body).toMatchObject({ agent_answer_url: url, name: "Acme Sales", default_region: "US" });
		expect(patched.response.headers.get("ETag")).not.toBe(before.response.headers.get("ETag"));
		expect((await settings(account.token)).body).toMatchObject({ agent_answer_url: url, name: "Acme Sales" });
		// A field left out stays as it is.
		expect((await patchSettings(account.token, { name: "Acme" })).body.agent_answer_url).toBe(url);
		const cleared = await patchSettings(account.token, { agent_answer_url: null });
		expect(cleared.status).toBe(200);
		expect(cleared.body).toMatchObject({ agent_answer_url: null, name: "Acme" });
	});

	it("takes back GET's representation; another id, region or connection cap is a 422 naming it", async () => {
		const account = await newAccount({ default_region: "VN" });
		const got = await settings(account.token);
		const edited = { ...got.body, agent_answer_url: "https://agents.example.com/a" };
		const written = await patchSettings(account.token, edited, { "If-Match": got.response.headers.get("ETag") ?? "" });
		expect(written.status).toBe(200);
		expect(written.body.agent_answer_url).toBe("https://agents.example.com/a");
		for (const [field, value] of [
			["id", crypto.randomUUID()],
			["default_region", "US"],
			["max_connections", 5000],
		] as const) {
			const refused = await patchSettings(account.token, { ...written.body, name: "Renamed", [field]: value });
			expect(refused.status, field).toBe(422);
			expect(Object.keys(refused.body.errors ?? {}), field).toEqual([field]);
		}
		expect((await settings(account.token)).body).toMatchObject({ name: got.body.name, default_region: "VN" });
	});

	it("refuses what is not an absolute https URL (or http to this machine in development), storing nothing", async () => {
		const account = await newAccount();
		const before = await settings(account.token);
		const cases: [unknown, string][] = [
			["not a url", "Not a URL."],
			["/relative/answer", "Not a URL."],
			["javascript:alert(document.cookie)", "Must be https (or http://127.0.0.1 / localhost in development)."],
			["JavaScript://agents.example.com/%0Aalert(1)", "Must be https (or http://127.0.0.1 / localhost in development)."],
			["data:text/html,<script>alert(1)</script>", "Must be https (or http://127.0.0.1 / localhost in development)."],
			["ftp://agents.example.com/answer", "Must be https (or http://127.0.0.1 / localhost in development)."],
			["http://agents.example.com/answer", "Must be https (or http://127.0.0.1 / localhost in development)."],
			["https://user:secret@agents.example.com/answer", "Credentials in the URL are not allowed."],
			[`https://agents.example.com/${"a".repeat(2000)}`, "Too big: expected string to have <=2000 characters"],
			[42, "Invalid input: expected string, received number"],
		];
		for (const [url, message] of cases) {
			const refused = await patchSettings(account.token, { agent_answer_url: url, name: "changed" });
			expect(refused.status, String(url)).toBe(422);
			expect(refused.body.errors, String(url)).toEqual({ agent_answer_url: [message] });
			expect(refused.body.message).toBe(`The given data was invalid: agent_answer_url: ${message}`);
		}
		for (const [body, field] of [
			[{ name: "" }, "name"],
			[{ name: "x".repeat(201) }, "name"],
			[{ rate_limits: { pbx: 1000 } }, "body"],
			[{ effective_rate_limits: "lots" }, "effective_rate_limits"],
		] as const) {
			const refused = await patchSettings(account.token, body);
			expect(refused.status, JSON.stringify(body)).toBe(422);
			expect(Object.keys(refused.body.errors ?? {}), JSON.stringify(body)).toEqual([field]);
		}
		const after = await settings(account.token);
		expect(after.body).toEqual(before.body);
		expect(after.response.headers.get("ETag")).toBe(before.response.headers.get("ETag"));
		// Development takes a receiver on this machine, which local stand-ins use.
		for (const url of ["http://127.0.0.1:8799/answer", "http://localhost:9000/answer"]) {
			expect((await patchSettings(account.token, { agent_answer_url: url })).status, url).toBe(200);
		}
	});

	it("in production: https on the default port to a public host name only, as webhook endpoints", async () => {
		const account = await newAccount();
		for (const url of [
			"http://127.0.0.1:8799/answer",
			"http://agents.example.com/answer",
			"https://10.0.0.7/answer",
			"https://[::1]/answer",
			"https://localhost/answer",
			"https://agents.internal/answer",
			"https://agents.example.com:8443/answer",
			"https://127.0.0.1.nip.io/answer",
		]) {
			const refused = await patchInProduction(account.token, { agent_answer_url: url });
			expect(refused.status, url).toBe(422);
			expect(Object.keys(refused.body.errors ?? {}), url).toEqual(["agent_answer_url"]);
		}
		expect((await settings(account.token)).body.agent_answer_url).toBeNull();
		const accepted = await patchInProduction(account.token, { agent_answer_url: "https://agents.example.com/answer" });
		expect(accepted.status).toBe(200);
		expect(accepted.body.agent_answer_url).toBe("https://agents.example.com/answer");
	});
});

describe("optimistic locking of the account", () => {
	it("If-Match: the current ETag writes, a stale one is 412 and changes nothing, none (or *) writes", async () => {
		const account = await newAccount();
		const first = await settings(account.token);
		const etag = first.response.headers.get("ETag") ?? "";
		const written = await patchSettings(account.token, { name: "First" }, { "If-Match": etag });
		expect(written.status).toBe(200);
		const stale = await patchSettings(account.token, { name: "Stale" }, { "If-Match": etag });
		expect(stale.status).toBe(412);
		expect(stale.body.message).toBe("Resource has changed, please GET again.");
		expect((await settings(account.token)).body.name).toBe("First");
		// A tag this server never issued (not an instant) matches nothing.
		expect((await patchSettings(account.token, { name: "x" }, { "If-Match": `"v${"9".repeat(15)}"` })).status).toBe(412);
		expect((await patchSettings(account.token, { name: "x" }, { "If-Match": '"nonsense"' })).status).toBe(412);
		expect((await patchSettings(account.token, { name: "Any" }, { "If-Match": "*" })).status).toBe(200);
		// Without If-Match the write proceeds (the spec asks for no 428).
		expect((await patchSettings(account.token, { name: "Blind" })).status).toBe(200);
		expect((await settings(account.token)).body.name).toBe("Blind");
	});

	it("every write changes the ETag, even several within one millisecond", async () => {
		const account = await newAccount();
		const etags = new Set<string>();
		for (let i = 0; i < 5; i++) {
			const written = await patchSettings(account.token, { name: `Name ${i}` });
			etags.add(written.response.headers.get("ETag") ?? "");
		}
		expect(etags.size).toBe(5);
		// Writes committed faster than the clock moves still come out in order.
		const stamps = await burst(8, (i) => patchSettings(account.token, { name: `Burst ${i}` }));
		const times = stamps.map((s) => s.body.updated_at);
		expect(new Set(times).size).toBe(8);
	});

	it("of concurrent writers holding the same ETag exactly one wins; the others get 412", async () => {
		const account = await newAccount();
		const etag = (await settings(account.token)).response.headers.get("ETag") ?? "";
		const results = await burst(10, (i) =>
			patchSettings(account.token, { agent_answer_url: `https://agents.example.com/${i}` }, { "If-Match": etag }),
		);
		const winners = results.filter((r) => r.status === 200);
		expect(winners).toHaveLength(1);
		expect(results.filter((r) => r.status === 412)).toHaveLength(9);
		expect((await settings(account.token)).body.agent_answer_url).toBe(winners[0]?.body.agent_answer_url);
	});

	it("a change by the platform admin changes the ETag too, so an owner's stale write is refused", async () => {
		const account = await newAccount();
		const etag = (await settings(account.token)).response.headers.get("ETag") ?? "";
		const raised = await callJson(`/api/admin/accounts/${account.id}`, {
			method: "PATCH",
			token: account.adminToken,
			body: { max_connections: 99 },
		});
		expect(raised.status).toBe(200);
		expect((await patchSettings(account.token, { name: "Mine" }, { "If-Match": etag })).status).toBe(412);
	});
});

describe("tenant isolation of account settings", () => {
	it("each token reads and changes its own account only", async () => {
		const [a, b] = await Promise.all([newAccount(), newAccount()]);
		await patchSettings(a.token, { agent_answer_url: "https://a.example.com/answer", name: "A" });
		const bSees = await settings(b.token);
		expect(bSees.body.id).toBe(b.id);
		expect(bSees.body.agent_answer_url).toBeNull();
		// B's write, even naming A's id, is B's account or a 422: never A's.
		const aimed = await patchSettings(b.token, { id: a.id, agent_answer_url: "https://b.example.com/evil" });
		expect(aimed.status).toBe(422);
		await patchSettings(b.token, { agent_answer_url: "https://b.example.com/answer" });
		expect((await settings(a.token)).body).toMatchObject({
			id: a.id,
			name: "A",
			agent_answer_url: "https://a.example.com/answer",
		});
	});
});

describe("the platform admin and agent_answer_url", () => {
	it("sets, shows and clears it on a customer account, validated like the account's own", async () => {
		const account = await newAccount();
		const path = `/api/admin/accounts/${account.id}`;
		const admin = account.adminToken;
		const shown = await callJson<{ agent_answer_url: string | null }>(path, { token: admin });
		expect(shown.body.agent_answer_url).toBeNull();
		const set = await callJson<{ agent_answer_url: string | null; max_connections: number }>(path, {
			method: "PATCH",
			token: admin,
			body: { agent_answer_url: "https://agents.example.com/answer" },
		});
		expect(set.status).toBe(200);
		expect(set.body).toMatchObject({ agent_answer_url: "https://agents.example.com/answer", max_connections: 1000 });
		expect((await settings(account.token)).body.agent_answer_url).toBe("https://agents.example.com/answer");
		// Other changes leave it alone.
		const raised = await callJson<{ agent_answer_url: string | null }>(path, {
			method: "PATCH",
			token: admin,
			body: { rate_limits: { account: 90 } },
		});
		expect(raised.body.agent_answer_url).toBe("https://agents.example.com/answer");
		const refused = await callJson<ErrorBody>(path, {
			method: "PATCH",
			token: admin,
			body: { agent_answer_url: "javascript:alert(1)" },
		});
		expect(refused.status).toBe(422);
		expect(Object.keys(refused.body.errors ?? {})).toEqual(["agent_answer_url"]);
		const cleared = await callJson<{ agent_answer_url: string | null }>(path, {
			method: "PATCH",
			token: admin,
			body: { agent_answer_url: null },
		});
		expect(cleared.body.agent_answer_url).toBeNull();
		const list = await callJson<{ data: { id: string; agent_answer_url: string | null }[] }>("/api/admin/accounts?limit=100", {
			token: admin,
		});
		expect(list.status).toBe(200);
		for (const item of list.body.data) expect(item).toHaveProperty("agent_answer_url");
	});

	it("may give it when creating the account; a bad one creates nothing", async () => {
		const admin = (await newAccount()).adminToken;
		const username = unique("agentful");
		const refused = await callJson<ErrorBody>("/api/admin/accounts", {
			token: admin,
			body: { name: "Bad", username, password: "correct horse battery", agent_answer_url: "http://agents.example.com/" },
		});
		expect(refused.status).toBe(422);
		expect(Object.keys(refused.body.errors ?? {})).toEqual(["agent_answer_url"]);
		const created = await callJson<{ agent_answer_url: string | null }>("/api/admin/accounts", {
			token: admin,
			body: { name: "Good", username, password: "correct horse battery", agent_answer_url: "https://agents.example.com/a" },
		});
		expect(created.status).toBe(201);
		expect(created.body.agent_answer_url).toBe("https://agents.example.com/a");
	});
});
