import { createExecutionContext, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import type { OutboundCall } from "../workers/dialer/dialer";
import worker from "../workers/index";
import { createCampaign, pacerOf } from "./campaign-helpers";
import { BASE, call, callJson, pbxAccount } from "./helpers";
import { TwilioStandin } from "./support/carriers/twilio-standin";

/**
 * With real carriers every tenant dials through the operator's one Twilio/Telnyx account, so the
 * number a call or SMS presents is the only thing that says whose it is: a tenant presents only
 * numbers that are its own, now.
 */

const SID = "AC00000000000000000000000000000001";
const TOKEN = "test-twilio-auth-token";
const realFetch = globalThis.fetch;
afterEach(() => vi.restoreAllMocks());

type Account = Awaited<ReturnType<typeof pbxAccount>>;

async function onTwilio<T = Record<string, unknown>>(path: string, token: string, body: unknown) {
	const ctx = createExecutionContext();
	const response = await worker.fetch(
		new Request(`${BASE}${path}`, {
			method: "POST",
			headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
			body: JSON.stringify(body),
		}),
		{ ...env, DIALER_PROVIDER: "twilio", SMS_PROVIDER: "twilio" },
		ctx,
	);
	await waitOnExecutionContext(ctx);
	return { status: response.status, body: (await response.json()) as T };
}

async function registerCallerId(account: Account, number: string) {
	return callJson<{ id: string; number: string }>("/api/pbx/caller-ids", {
		token: account.token,
		body: { number, label: number },
	});
}

describe("a tenant presents only its own numbers", () => {
	it("a number another account holds as its caller id cannot be registered again: 409, one account per number", async () => {
		const victim = await pbxAccount({ default_region: "US" });
		const attacker = await pbxAccount({ default_region: "US" });
		expect((await registerCallerId(victim, "+14155550177")).status).toBe(201);
		// With a real carrier, the attacker's calls and SMS would now go out From the victim's number,
		// on the operator's carrier account where that number is genuinely provisioned.
		const taken = await registerCallerId(attacker, "+14155550177");
		expect(taken.status).toBe(409);
		expect(taken.body).toEqual({
			message: "Caller id +14155550177 is registered by another account: a number presents one account only.",
		});
		// The account's own second try is the plain conflict.
		expect((await registerCallerId(victim, "+14155550177")).body).toEqual({
			message: "Caller id +14155550177 is already registered.",
		});
		// Given up by its holder, the number may be registered by another account.
		const held = await callJson<{ data: { id: string; number: string }[] }>("/api/pbx/caller-ids", { token: victim.token });
		const id = held.body.data.find((row) => row.number === "+14155550177")?.id;
		expect((await call(`/api/pbx/caller-ids/${id}`, { method: "DELETE", token: victim.token })).status).toBe(204);
		expect((await registerCallerId(attacker, "+14155550177")).status).toBe(201);
	});

	it("an SMS through a carrier presents only one of the account's own caller ids as From: another is a 422, nothing sent", async () => {
		const standin = new TwilioStandin(SID, TOKEN);
		vi.spyOn(globalThis, "fetch").mockImplementation(standin.fetchFor(realFetch));
		const victim = await pbxAccount({ default_region: "US" });
		const attacker = await pbxAccount({ default_region: "US" });
		expect((await registerCallerId(victim, "+14155550188")).status).toBe(201);
		expect((await registerCallerId(attacker, "+14155550199")).status).toBe(201);

		const sent = await onTwilio<{ status: string; from: string }>("/api/integrations/sms", attacker.token, {
			to: "+14155550100",
			from: "+14155550188",
			text: "Your bank: please confirm your PIN",
		});
		const fromVictim = [...standin.messages.values()].filter((message) => message.from === "+14155550188");
		expect(
			{ status: sent.status, sentFromVictimNumber: fromVictim.length },
			"the attacker's SMS left Twilio From the victim's number",
		).toEqual({ status: 422, sentFromVictimNumber: 0 });
	});

	it("a campaign whose caller id the account removed dials nothing from it: its contacts wait with the reason shown", async () => {
		const account = await pbxAccount({ default_region: "US" });
		const registered = await registerCallerId(account, "+14155550166");
		expect(registered.status).toBe(201);
		const campaign = await createCampaign(account, { contacts: ["+14155550101"], caller_id: "+14155550166" });
		// The account gives the number up (it may then be registered by someone else).
		expect((await call(`/api/pbx/caller-ids/${registered.body.id}`, { method: "DELETE", token: account.token })).status).toBe(
			204,
		);
		const pacer = pacerOf(campaign.id);
		const clock = { now: Date.parse("2030-03-04T17:00:00Z") };
		const dialled: OutboundCall[] = [];
		await runInDurableObject(pacer, (object: CampaignPacer) => {
			object.clock = () => clock.now;
			object.dialer = {
				place: async (outbound) => {
					dialled.push(outbound);
					return { kind: "accepted" };
				},
			};
		});
		await pacer.wake(campaign.id);
		for (let step = 0; step < 3 && dialled.length === 0; step++) {
			clock.now += 2_000;
			await runDurableObjectAlarm(pacer);
		}
		expect(dialled).toEqual([]);
		const live = await pacer.view(campaign.id);
		expect(live.provider).toMatchObject({
			state: "unavailable",
			last_error: "Caller id +14155550166 is no longer one of the account's caller ids: PATCH the campaign's caller_id.",
		});
		expect(live.contacts).toMatchObject({ pending: 1, done: 0 });
		expect(live.calls_today).toBe(0);
	});
});
