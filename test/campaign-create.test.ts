import { createExecutionContext, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import worker from "../workers/index";
import { DIALS_NOW, pacerOf, phones, runCron, seedPayload, takeOver } from "./campaign-helpers";
import { BASE, callJson, countRows, pbxAccount } from "./helpers";
import { failMethod, restoreFaults } from "./support/faults";

type Account = Awaited<ReturnType<typeof pbxAccount>>;
type Created = { id: string; status: string; caller_id: string | null; live?: { in_flight: number; contacts: Contacts } };
type Contacts = { total: number; pending: number; in_flight: number; done: number; skipped: number };

const MONDAY_NOON_NY = Date.parse("2030-03-04T17:00:00Z");
// biome-ignore lint/suspicious/noExplicitAny: the prototypes patched here have every kind of method.
type AnyFunction = (...args: any[]) => any;

const restorers: (() => void)[] = [];
afterEach(() => {
	for (const restore of restorers.splice(0)) restore();
	restoreFaults();
});

/** Every D1 call made in this isolate (the Worker's and its objects'), with the SQL of each statement. */
function recordD1() {
	const log: { method: string; sql: string[] }[] = [];
	const statementPrototype = Object.getPrototypeOf(env.DB.prepare("SELECT 1")) as Record<string, AnyFunction>;
	const databasePrototype = Object.getPrototypeOf(env.DB) as Record<string, AnyFunction>;
	const patch = (prototype: Record<string, AnyFunction>, method: string, sqlOf: (self: unknown, args: unknown[]) => string[]) => {
		const original = prototype[method] as AnyFunction;
		prototype[method] = function (this: unknown, ...args: unknown[]) {
			log.push({ method, sql: sqlOf(this, args) });
			return original.apply(this, args);
		};
		restorers.push(() => {
			prototype[method] = original;
		});
	};
	const sqlOf = (statement: unknown) => (statement as { statement?: string }).statement ?? "";
	for (const method of ["run", "first", "all", "raw"]) patch(statementPrototype, method, (self) => [sqlOf(self)]);
	patch(databasePrototype, "batch", (_, [statements]) => (statements as unknown[]).map(sqlOf));
	return log;
}

/** RPC dispatches to the class's methods, so counters and faults go on the prototype. */
const pacerPrototype = () =>
	runInDurableObject(pacerOf(crypto.randomUUID()), (pacer: CampaignPacer) => Object.getPrototypeOf(pacer) as CampaignPacer);

async function countPacerCalls() {
	const prototype = (await pacerPrototype()) as unknown as Record<string, AnyFunction>;
	const calls: string[] = [];
	for (const method of ["start", "wake", "view", "configure"]) {
		const original = prototype[method] as AnyFunction;
		prototype[method] = function (this: unknown, ...args: unknown[]) {
			calls.push(method);
			return original.apply(this, args);
		};
		restorers.push(() => {
			prototype[method] = original;
		});
	}
	return calls;
}

/** The statements of the create itself: the pacer's own record of the campaign (its alarm) left out. */
const createStatements = (log: { method: string; sql: string[] }[]) =>
	log.filter(
		({ sql }) =>
			!sql.some((s) => s.includes("UPDATE autocall_campaigns SET")) &&
			sql.some((s) => /autocall_campaigns|campaign_contacts|caller_ids|agent_answer_url/.test(s)),
	);

const create = (account: Account, overrides: Record<string, unknown> = {}, key = crypto.randomUUID()) =>
	callJson<Created>("/api/autocall/campaigns", {
		token: account.token,
		body: seedPayload(overrides),
		headers: { "Idempotency-Key": key },
	});

describe("creating a campaign", () => {
	it("is one D1 batch (claim, campaign, contacts, the contact policy its pacer needs) and one pacer call: nothing is read back", async () => {
		const account = await pbxAccount();
		const log = recordD1();
		const pacerCalls = await countPacerCalls();
		const created = await create(account);
		expect(created.status).toBe(201);
		const statements = createStatements(log);
		expect(statements.map(({ method }) => method)).toEqual(["batch"]);
		const [batch] = statements.map(({ sql }) => sql.map((s) => s.trim().split(/\s+/).slice(0, 3).join(" ")));
		// The idempotency claim's statements, then the campaign and its contacts, and the account's
		// contact policy for the pacer's first load, read in the same batch; no other SELECT.
		expect(batch?.slice(-3)).toEqual([
			"INSERT INTO autocall_campaigns",
			"INSERT INTO campaign_contacts",
			"SELECT recipient_hours_start, recipient_hours_end,",
		]);
		expect(batch).toContain("INSERT INTO idempotency_claims");
		expect(batch?.filter((statement) => statement.startsWith("SELECT"))).toEqual([
			"SELECT recipient_hours_start, recipient_hours_end,",
		]);
		expect(pacerCalls).toEqual(["start"]);
		// What the response shows is what was written.
		const got = await callJson<Created & Record<string, unknown>>(`/api/autocall/campaigns/${created.body.id}`, {
			token: account.token,
		});
		const { live: _created, ...createdFields } = created.body;
		const { live: _got, ...gotFields } = got.body;
		expect(gotFields).toEqual(createdFields);
		expect(got.response.headers.get("ETag")?.split("-")[0]).toBe(
			`"v${(createdFields as unknown as { version: number }).version}`,
		);
	});

	it("takes the account's default caller id in the insert itself", async () => {
		const account = await pbxAccount({ default_region: "US" });
		for (const [number, isDefault] of [
			["+14155550711", false],
			["+14155550733", true],
		] as const) {
			const added = await callJson("/api/pbx/caller-ids", {
				token: account.token,
				body: { number, label: number, ...(isDefault ? { is_default: true } : {}) },
			});
			expect(added.status).toBe(201);
		}
		const created = await create(account, { contacts: ["+14155550700"] });
		expect(created.body.caller_id).toBe("+14155550733");
		const row = await env.DB.prepare("SELECT caller_id FROM autocall_campaigns WHERE id = ?")
			.bind(created.body.id)
			.first<{ caller_id: string }>();
		expect(row?.caller_id).toBe("+14155550733");
	});

	it("on a carrier, the caller id and the agent platform are one read before the batch", async () => {
		const account = await pbxAccount({ default_region: "US" });
		const added = await callJson("/api/pbx/caller-ids", {
			token: account.token,
			body: { number: "+14155550744", label: "main" },
		});
		expect(added.status).toBe(201);
		const patched = await callJson("/api/account", {
			method: "PATCH",
			token: account.token,
			body: { agent_answer_url: "https://agents.example/answer" },
		});
		expect(patched.status).toBe(200);
		const log = recordD1();
		const ctx = createExecutionContext();
		const response = await worker.fetch(
			new Request(`${BASE}/api/autocall/campaigns`, {
				method: "POST",
				headers: { Authorization: `Bearer ${account.token}`, "Content-Type": "application/json" },
				body: JSON.stringify(seedPayload({ contacts: ["+14155550700"] })),
			}),
			{ ...env, DIALER_PROVIDER: "twilio" },
			ctx,
		);
		await waitOnExecutionContext(ctx);
		expect(response.status).toBe(201);
		expect(((await response.json()) as Created).caller_id).toBe("+14155550744");
		expect(createStatements(log).map(({ method }) => method)).toEqual(["first", "batch"]);
	});

	it("its pacer's alarm records and dials the first calls, on the contacts as D1 has them", async () => {
		const account = await pbxAccount();
		const created = await create(account, { contacts: phones(5, 500), max_concurrent_calls: 2 });
		expect(created.body.live?.contacts).toEqual({ total: 5, pending: 5, in_flight: 0, done: 0, skipped: 0 });
		const clock = { now: MONDAY_NOON_NY };
		const { inject, dialled } = takeOver(created.body.id, clock);
		await inject();
		expect(await runDurableObjectAlarm(pacerOf(created.body.id))).toBe(true);
		expect(dialled.map((call) => call.to).sort()).toEqual(["+84920000500", "+84920000501"]);
		// The contacts the pacer took from the create are D1's rows: its record of them lands on them.
		const { results } = await env.DB.prepare(
			"SELECT position, status, attempts FROM campaign_contacts WHERE campaign_id = ? ORDER BY position",
		)
			.bind(created.body.id)
			.all<{ position: number; status: string; attempts: number }>();
		expect(results.map((contact) => `${contact.position}:${contact.status}:${contact.attempts}`)).toEqual([
			"0:in_flight:1",
			"1:in_flight:1",
			"2:pending:0",
			"3:pending:0",
			"4:pending:0",
		]);
		expect(await countRows("calls", "campaign_id = ?", created.body.id)).toBe(2);
	});

	it("an immediate campaign answers with its first calls already reserved", async () => {
		const account = await pbxAccount();
		const created = await create(account, {
			...DIALS_NOW,
			max_concurrent_calls: 2,
			contacts: phones(5, 600),
		});
		if (new Date().getUTCHours() === 23 && new Date().getUTCMinutes() === 59) return; // the one minute the window is shut
		expect(created.body.status).toBe("active");
		expect(created.body.live?.in_flight).toBe(2);
		expect(created.body.live?.contacts).toEqual({ total: 5, pending: 3, in_flight: 2, done: 0, skipped: 0 });
	});
});

describe("creating a campaign when its pacer cannot be reached", () => {
	it("start fails: the client gets its 201 once, and the cron sweep starts the campaign", async () => {
		const account = await pbxAccount();
		const fault = failMethod(await pacerPrototype(), "start", { mode: "throw", times: 1 });
		const key = crypto.randomUUID();
		const created = await create(account, { contacts: phones(3, 700) }, key);
		expect(fault.failed).toBe(1);
		expect(created.status).toBe(201);
		expect(created.body).not.toHaveProperty("live");
		const replay = await create(account, { contacts: phones(3, 700) }, key);
		expect(replay.body.id).toBe(created.body.id);
		expect(await countRows("autocall_campaigns", "account_id = ?", account.id)).toBe(1);

		// Its D1 record never got a wake time, so the sweep finds it due.
		const clock = { now: MONDAY_NOON_NY };
		const { inject, dialled } = takeOver(created.body.id, clock);
		await inject();
		await runCron(MONDAY_NOON_NY);
		expect(dialled.map((call) => call.to).sort()).toEqual(["+84920000700", "+84920000701", "+84920000702"]);
		const row = await env.DB.prepare("SELECT status, next_wake_at FROM autocall_campaigns WHERE id = ?")
			.bind(created.body.id)
			.first<{ status: string; next_wake_at: string | null }>();
		expect(row?.status).toBe("active");
		expect(row?.next_wake_at).not.toBeNull();
	});

	it("start runs but its answer is lost: 201 without live counters; the alarm and the sweep dial each contact once", async () => {
		const account = await pbxAccount();
		const fault = failMethod(await pacerPrototype(), "start", { mode: "lose-answer", times: 1 });
		const created = await create(account, { contacts: phones(3, 800) });
		expect(fault.failed).toBe(1);
		expect(created.status).toBe(201);
		expect(created.body).not.toHaveProperty("live");

		const clock = { now: MONDAY_NOON_NY };
		const { inject, dialled } = takeOver(created.body.id, clock);
		await inject();
		await runDurableObjectAlarm(pacerOf(created.body.id));
		await runCron(MONDAY_NOON_NY);
		await runDurableObjectAlarm(pacerOf(created.body.id));
		expect(dialled.map((call) => call.to).sort()).toEqual(["+84920000800", "+84920000801", "+84920000802"]);
		expect(await countRows("calls", "campaign_id = ?", created.body.id)).toBe(3);
	});
});
