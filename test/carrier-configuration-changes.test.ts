import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import { telnyxDialer } from "../workers/carriers/telnyx/voice";
import { twilioDialer } from "../workers/carriers/twilio/voice";
import type { OutboundCall } from "../workers/dialer/dialer";
import { createCampaign, pacerOf } from "./campaign-helpers";
import { call, callJson, pbxAccount } from "./helpers";
import { AGENT_PLATFORM, deliver, TelnyxStandin, type Webhook } from "./support/carriers/telnyx-standin";
import { TwilioStandin } from "./support/carriers/twilio-standin";

/**
 * What changes while calls are out: the campaign's caller id removed or replaced, an agent
 * platform that refuses the calls handed to it, a database whose accounts shared numbers.
 */

const SID = "AC00000000000000000000000000000001";
const TOKEN = "test-twilio-auth-token";
const realFetch = globalThis.fetch;
afterEach(() => vi.restoreAllMocks());

type Account = Awaited<ReturnType<typeof pbxAccount>>;
let serial = 0;
/** A US number no other test file uses (a number belongs to one account only). */
const number = () => `+1415777${String(1000 + ++serial)}`;

async function register(account: Account, value: string) {
	const created = await callJson<{ id: string }>("/api/pbx/caller-ids", {
		token: account.token,
		body: { number: value, label: value },
	});
	expect(created.status, JSON.stringify(created.body)).toBe(201);
	return created.body.id;
}

const patchCampaign = (account: Account, id: string, body: unknown) =>
	callJson(`/api/autocall/campaigns/${id}`, { method: "PATCH", token: account.token, body });

describe("a campaign's caller id removed or replaced while its calls are out", () => {
	it("a dial whose answer was lost is asked again from the number it was first asked from, even removed since: Twilio's look-up finds it, the contact rings once", async () => {
		const account = await pbxAccount({ default_region: "US" });
		const first = number();
		const firstId = await register(account, first);
		const campaign = await createCampaign(account, {
			contacts: ["+14155550123"],
			scheduled_at: "2030-03-04T15:00:00Z",
			start_time: "09:00",
			end_time: "17:00",
			caller_id: first,
		});
		const pacer = pacerOf(campaign.id);
		const clock = { now: Date.parse("2030-03-04T15:00:00Z") };
		const standin = new TwilioStandin(SID, TOKEN, () => clock.now);
		vi.spyOn(globalThis, "fetch").mockImplementation(standin.fetchFor(realFetch));
		await runInDurableObject(pacer, (object: CampaignPacer) => {
			object.clock = () => clock.now;
			object.random = () => 0.5;
			object.dialer = twilioDialer(env);
		});
		// Twilio creates the call (the customer's phone rings, then they talk), but the answer is lost.
		standin.faults.push({ kind: "lose-answer" });
		await pacer.wake(campaign.id);
		expect(standin.creates()).toHaveLength(1);
		// The account gives up the number meanwhile: the re-ask still goes out from it, and Twilio's look-up adopts the live call.
		expect((await call(`/api/pbx/caller-ids/${firstId}`, { method: "DELETE", token: account.token })).status).toBe(204);
		clock.now += 3_000;
		await runDurableObjectAlarm(pacer);
		expect((await pacer.view(campaign.id)).provider).toMatchObject({ state: "available", last_error: null });
		expect(standin.creates()).toHaveLength(1);
		// A new number for the campaign's next calls: the live call is not asked again.
		const second = number();
		await register(account, second);
		expect((await patchCampaign(account, campaign.id, { caller_id: second })).status).toBe(200);
		for (let step = 0; step < 4; step++) {
			clock.now += 120_000;
			await runDurableObjectAlarm(pacer);
		}
		const toContact = [...standin.calls.values()].map((c) => ({ to: c.to, from: c.from }));
		expect(toContact).toEqual([{ to: "+14155550123", from: first }]);
	});

	it("after a removed caller id held them back, a PATCH naming a held one dials the contacts at once, not after the backoff", async () => {
		const account = await pbxAccount({ default_region: "US" });
		const first = number();
		const firstId = await register(account, first);
		const campaign = await createCampaign(account, { contacts: ["+14155550101"], caller_id: first });
		expect((await call(`/api/pbx/caller-ids/${firstId}`, { method: "DELETE", token: account.token })).status).toBe(204);
		const pacer = pacerOf(campaign.id);
		const clock = { now: Date.parse("2030-03-04T17:00:00Z") };
		const dialled: OutboundCall[] = [];
		await runInDurableObject(pacer, (object: CampaignPacer) => {
			object.clock = () => clock.now;
			object.random = () => 0.5;
			object.dialer = {
				place: async (outbound) => {
					dialled.push(outbound);
					return { kind: "accepted" };
				},
			};
		});
		await pacer.wake(campaign.id);
		// Nobody notices for a while: the campaign waits, probing with a backoff that grows to its 5-minute cap.
		for (let step = 0; step < 10; step++) {
			clock.now += 310_000;
			await runDurableObjectAlarm(pacer);
		}
		expect(dialled).toEqual([]);
		expect((await pacer.view(campaign.id)).provider.last_error).toMatch(/no longer one of the account's caller ids/);
		const second = number();
		await register(account, second);
		expect((await patchCampaign(account, campaign.id, { caller_id: second })).status).toBe(200);
		clock.now += 2_000;
		await pacer.wake(campaign.id);
		expect({
			dialled: dialled.map((outbound) => outbound.callerId),
			provider: (await pacer.view(campaign.id)).provider.state,
		}).toEqual({
			dialled: [second],
			provider: "available",
		});
	});
});

describe("a Telnyx agent platform that refuses the call handed to it", () => {
	it("a 404 (it never will take it) hangs the customer up and fails the call, without a redelivery loop", async () => {
		const standin = new TelnyxStandin();
		vi.spyOn(globalThis, "fetch").mockImplementation(standin.fetch);
		const account = await pbxAccount();
		await env.DB.prepare("UPDATE accounts SET agent_answer_url = ? WHERE id = ?").bind(AGENT_PLATFORM, account.id).run();
		const campaign = await createCampaign(account, { contacts: ["0920000001"] });
		const id = crypto.randomUUID();
		const now = new Date().toISOString();
		const callerId = "+842812345699";
		await env.DB.prepare(
			`INSERT INTO calls (id, account_id, kind, campaign_id, contact_id, attempt, to_phone, caller_id, status, created_at, updated_at)
			 VALUES (?, ?, 'campaign', ?, ?, 1, '+84920000091', ?, 'dialing', ?, ?)`,
		)
			.bind(id, account.id, campaign.id, crypto.randomUUID(), callerId, now, now)
			.run();
		standin.hold = true;
		const result = await telnyxDialer(env).place({
			callId: id,
			accountId: account.id,
			campaignId: campaign.id,
			to: "+84920000091",
			callerId,
			agentId: null,
			agentLeg: null,
			machineDetection: false,
			firstAskedAt: null,
		});
		standin.hold = false;
		expect(result.kind).toBe("accepted");
		const providerCallId = result.kind === "accepted" ? (result.providerCallId ?? "") : "";
		const initiated = standin
			.take()
			.find((w) => w.eventType === "call.initiated" && w.callControlId === providerCallId) as Webhook;
		expect((await deliver(call, initiated.body)).status).toBe(200);
		const answered = initiated.body
			.replace('"call.initiated"', '"call.answered"')
			.replace(/"id":"[0-9a-f-]{36}"/, `"id":"${crypto.randomUUID()}"`)
			.replace('"state":"bridging"', '"state":"answered"');
		standin.agentStatus = 404;
		const statuses: number[] = [];
		for (let delivery = 0; delivery < 3; delivery++) statuses.push((await deliver(call, answered)).status);
		const row = await env.DB.prepare("SELECT status, failure_reason FROM calls WHERE id = ?").bind(id).first();
		// Each redelivery repeats the hang-up under the same command_id, which Telnyx carries out once.
		const hangups = new Set(
			standin.requests.filter((r) => r.path.endsWith("/actions/hangup")).map((r) => String(r.body?.command_id)),
		);
		expect({ statuses, status: row?.status, reason: row?.failure_reason, hungUp: hangups.size }).toEqual({
			statuses: [200, 200, 200],
			status: "failed",
			reason: "The agent platform refused the call: HTTP 404.",
			hungUp: 1,
		});
	});
});

describe("migration 0007 on a database whose accounts shared a number", () => {
	it("stops on a number two accounts hold (only the operator can say whose it is), and applies once they no longer do", async () => {
		const migration = (env.TEST_MIGRATIONS as { name: string; queries: string[] }[]).find((m) => m.name.startsWith("0007"));
		const statement = migration?.queries.find((q) => q.includes("caller_ids_number_everywhere"));
		expect(statement).toBeDefined();
		const a = await pbxAccount();
		const b = await pbxAccount();
		const shared = number();
		const now = new Date().toISOString();
		await env.DB.exec("DROP INDEX caller_ids_number_everywhere");
		try {
			// What 0002–0005 allowed (unique per account only), and a live multi-tenant database may hold.
			await env.DB.batch([
				env.DB.prepare("INSERT INTO caller_ids (id, account_id, number, label, created_at) VALUES (?, ?, ?, 'x', ?)").bind(
					crypto.randomUUID(),
					a.id,
					shared,
					now,
				),
				env.DB.prepare("INSERT INTO caller_ids (id, account_id, number, label, created_at) VALUES (?, ?, ?, 'x', ?)").bind(
					crypto.randomUUID(),
					b.id,
					shared,
					now,
				),
			]);
			let failure: string | null = null;
			try {
				await env.DB.prepare(statement as string).run();
			} catch (error) {
				failure = error instanceof Error ? error.message : String(error);
			}
			expect(failure).toContain("UNIQUE constraint failed: caller_ids.number");
			// The operator removes the number from the account that does not own it, as 0007 says; then it applies.
			await env.DB.prepare("DELETE FROM caller_ids WHERE number = ? AND account_id = ?").bind(shared, b.id).run();
			await env.DB.prepare(statement as string).run();
		} finally {
			await env.DB.prepare("DELETE FROM caller_ids WHERE number = ?").bind(shared).run();
			await env.DB.exec("CREATE UNIQUE INDEX IF NOT EXISTS caller_ids_number_everywhere ON caller_ids(number)");
		}
	});
});
