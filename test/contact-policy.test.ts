import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hashPassword } from "../workers/auth/passwords";
import { readContactPolicy } from "../workers/compliance/contact-policy";
import { burst, callJson, newAccount, type TestAccount, unique } from "./helpers";

interface Policy {
	recipient_hours: { start: string; end: string } | null;
	unknown_timezone: "campaign" | "skip";
	max_attempts_per_number: { count: number; days: number } | null;
}
interface ErrorBody {
	message: string;
	errors?: Record<string, string[]>;
}

const PATH = "/api/account/contact-policy";
const TCPA: Policy = {
	recipient_hours: { start: "08:00", end: "21:00" },
	unknown_timezone: "skip",
	max_attempts_per_number: { count: 3, days: 1 },
};
const DEFAULTS: Policy = { recipient_hours: null, unknown_timezone: "campaign", max_attempts_per_number: null };

const account = () => newAccount({ rate_limits: { account: 10_000 } });
const getPolicy = (token: string, headers: Record<string, string> = {}) => callJson<Policy>(PATH, { token, headers });
const putPolicy = (token: string, body: unknown, headers: Record<string, string> = {}) =>
	callJson<Policy & ErrorBody>(PATH, { method: "PUT", token, body, headers });

/** A second user of the account, with the member role (no API creates one yet). */
async function memberOf(owner: TestAccount): Promise<string> {
	const username = unique("member");
	const password = "member password 1";
	const now = new Date().toISOString();
	await env.DB.prepare(
		"INSERT INTO users (id, account_id, username, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, 'member', ?, ?)",
	)
		.bind(crypto.randomUUID(), owner.id, username, await hashPassword(password, 1000), now, now)
		.run();
	const login = await callJson<{ token: string }>("/api/auth/login", {
		body: { username, password },
		headers: { "CF-Connecting-IP": unique("10.3.0.") },
	});
	return login.body.token;
}

describe("GET /api/account/contact-policy", () => {
	it("the defaults until the first PUT, exactly the SPEC's fields, ETag v0 and 304", async () => {
		const { token } = await account();
		const got = await getPolicy(token);
		expect(got.status).toBe(200);
		expect(got.body).toEqual(DEFAULTS);
		const etag = got.response.headers.get("ETag");
		expect(etag).toBe('"v0"');
		const again = await getPolicy(token, { "If-None-Match": etag ?? "" });
		expect(again.status).toBe(304);
	});
});

describe("PUT /api/account/contact-policy", () => {
	it("stores the policy; GET shows it; a new ETag; omitted fields go back to their defaults", async () => {
		const owner = await account();
		const put = await putPolicy(owner.token, TCPA);
		expect(put.status).toBe(200);
		expect(put.body).toEqual(TCPA);
		expect(put.response.headers.get("ETag")).toBe('"v1"');
		expect((await getPolicy(owner.token)).body).toEqual(TCPA);
		expect(await readContactPolicy(env.DB, owner.id)).toEqual({ ...TCPA, version: 1 });
		// A PUT replaces the document: what it leaves out takes its default.
		const partial = await putPolicy(owner.token, { recipient_hours: { start: "09:00", end: "20:00" } });
		expect(partial.body).toEqual({ ...DEFAULTS, recipient_hours: { start: "09:00", end: "20:00" } });
		expect(partial.response.headers.get("ETag")).toBe('"v2"');
		// GET's body goes back as it is.
		const roundTrip = await putPolicy(owner.token, (await getPolicy(owner.token)).body);
		expect(roundTrip.status).toBe(200);
		expect(roundTrip.body).toEqual(partial.body);
	});

	it("If-Match: v0 takes the defaults; a stale tag is 412 and changes nothing; * and none write", async () => {
		const owner = await account();
		const first = await putPolicy(owner.token, TCPA, { "If-Match": '"v0"' });
		expect(first.status).toBe(200);
		const stale = await putPolicy(owner.token, DEFAULTS, { "If-Match": '"v0"' });
		expect(stale.status).toBe(412);
		expect(stale.body.message).toBe("Resource has changed, please GET again.");
		expect((await getPolicy(owner.token)).body).toEqual(TCPA);
		expect((await putPolicy(owner.token, DEFAULTS, { "If-Match": '"v7"' })).status).toBe(412);
		expect((await putPolicy(owner.token, DEFAULTS, { "If-Match": '"nonsense"' })).status).toBe(412);
		const current = (await getPolicy(owner.token)).response.headers.get("ETag") ?? "";
		expect((await putPolicy(owner.token, DEFAULTS, { "If-Match": current })).status).toBe(200);
		expect((await putPolicy(owner.token, TCPA, { "If-Match": "*" })).status).toBe(200);
		expect((await putPolicy(owner.token, DEFAULTS)).status).toBe(200);
		expect((await getPolicy(owner.token)).response.headers.get("ETag")).toBe('"v4"');
	});

	it("an account without a row yet: a tag other than v0 is 412 and creates nothing", async () => {
		const owner = await account();
		expect((await putPolicy(owner.token, TCPA, { "If-Match": '"v1"' })).status).toBe(412);
		const rows = await env.DB.prepare("SELECT count(*) AS n FROM contact_policies WHERE account_id = ?").bind(owner.id).first();
		expect(rows?.n).toBe(0);
	});

	it("of concurrent writers holding the same ETag exactly one wins, also for the very first write", async () => {
		const owner = await account();
		for (const round of [0, 1]) {
			const etag = (await getPolicy(owner.token)).response.headers.get("ETag") ?? "";
			const results = await burst(10, (i) =>
				putPolicy(owner.token, { ...TCPA, max_attempts_per_number: { count: i + 1, days: 1 } }, { "If-Match": etag }),
			);
			const winners = results.filter((result) => result.status === 200);
			expect(winners, `round ${round}`).toHaveLength(1);
			expect(results.filter((result) => result.status === 412)).toHaveLength(9);
			expect((await getPolicy(owner.token)).body).toEqual(winners[0]?.body);
		}
	});

	it("bad input is a 422 naming the field, and stores nothing", async () => {
		const owner = await account();
		await putPolicy(owner.token, TCPA);
		const cases: [unknown, string][] = [
			[{ recipient_hours: { start: "8:00", end: "21:00" } }, "recipient_hours.start"],
			[{ recipient_hours: { start: "08:00", end: "24:00" } }, "recipient_hours.end"],
			[{ recipient_hours: { start: "21:00", end: "08:00" } }, "recipient_hours.end"],
			[{ recipient_hours: { start: "08:00", end: "08:00" } }, "recipient_hours.end"],
			[{ recipient_hours: { start: "08:00" } }, "recipient_hours.end"],
			[{ unknown_timezone: "guess" }, "unknown_timezone"],
			[{ max_attempts_per_number: { count: 0, days: 1 } }, "max_attempts_per_number.count"],
			[{ max_attempts_per_number: { count: 3, days: 0 } }, "max_attempts_per_number.days"],
			[{ max_attempts_per_number: { count: 101, days: 1 } }, "max_attempts_per_number.count"],
			[{ max_attempts_per_number: { count: 3, days: 401 } }, "max_attempts_per_number.days"],
			[{ max_attempts_per_number: { count: 1.5, days: 1 } }, "max_attempts_per_number.count"],
			[{ recipient_hours: null, calling_hours: true }, "body"],
		];
		for (const [body, field] of cases) {
			const refused = await putPolicy(owner.token, body);
			expect(refused.status, JSON.stringify(body)).toBe(422);
			expect(refused.body.message).toMatch(/^The given data was invalid/);
			expect(Object.keys(refused.body.errors ?? {}), JSON.stringify(body)).toContain(field);
		}
		const after = await getPolicy(owner.token);
		expect(after.body).toEqual(TCPA);
		expect(after.response.headers.get("ETag")).toBe('"v1"');
	});

	it("max_attempts_per_number counts over at most 400 days, as long as the contact ledger keeps attempts", async () => {
		const owner = await account();
		const longest = { ...TCPA, max_attempts_per_number: { count: 3, days: 400 } };
		expect((await putPolicy(owner.token, longest)).status).toBe(200);
		const refused = await putPolicy(owner.token, { ...TCPA, max_attempts_per_number: { count: 3, days: 401 } });
		expect(refused.status).toBe(422);
		expect(refused.body.errors?.["max_attempts_per_number.days"]).toEqual([
			"At most 400: the contact ledger keeps counted attempts for 400 days.",
		]);
		expect((await getPolicy(owner.token)).body).toEqual(longest);
	});

	it("the owner changes it; a member reads it and gets 403 on PUT", async () => {
		const owner = await account();
		const member = await memberOf(owner);
		await putPolicy(owner.token, TCPA);
		expect((await getPolicy(member)).body).toEqual(TCPA);
		const refused = await putPolicy(member, DEFAULTS);
		expect(refused.status).toBe(403);
		expect(refused.body.message).toBe("Only the account's owner can change its settings.");
		expect((await getPolicy(owner.token)).body).toEqual(TCPA);
	});

	it("is per account: one account's policy is never another's", async () => {
		const [a, b] = await Promise.all([account(), account()]);
		await putPolicy(a.token, TCPA);
		expect((await getPolicy(b.token)).body).toEqual(DEFAULTS);
		expect(await readContactPolicy(env.DB, b.id)).toEqual({ ...DEFAULTS, version: 0 });
		// B's first write (v0) does not collide with A's row.
		expect((await putPolicy(b.token, { unknown_timezone: "skip" }, { "If-Match": '"v0"' })).status).toBe(200);
		expect((await getPolicy(a.token)).body).toEqual(TCPA);
		expect((await getPolicy(b.token)).body).toEqual({ ...DEFAULTS, unknown_timezone: "skip" });
	});
});
