import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import { decodeClientState } from "../workers/carriers/telnyx/events";
import { telnyxDialer } from "../workers/carriers/telnyx/voice";
import { checkInvariants, createCampaign, pacerOf, phones, random, windowOf } from "./campaign-helpers";
import { call, callJson, countRows, pbxAccount } from "./helpers";
import { AGENT_PLATFORM, CONNECTION_ID, deliver, TelnyxStandin, type Webhook } from "./support/carriers/telnyx-standin";

afterEach(() => vi.restoreAllMocks());

/** A caller id of its own for each account: a number presents one account only. */
let callerIds = 0;
const callerIdNumber = () => `+8490${String(1_000_000 + ++callerIds)}`;
const MONDAY_NOON_NY = Date.parse("2030-03-04T17:00:00Z");
/** The campaign's contacts as the pacer dials them (VN numbers, E.164). */
const e164 = (phone: string) => `+84${phone.slice(1)}`;

/** An account with a default caller id and an agent platform, a campaign on it, and its pacer dialling through Telnyx. */
async function telnyxCampaign(config: Record<string, unknown>, clock: { now: number }, jitter: () => number = () => 0.5) {
	const account = await pbxAccount();
	const callerId = await callJson("/api/pbx/caller-ids", {
		token: account.token,
		body: { number: callerIdNumber(), label: "Main line", is_default: true },
	});
	expect(callerId.status, JSON.stringify(callerId.body)).toBe(201);
	await env.DB.prepare("UPDATE accounts SET agent_answer_url = ? WHERE id = ?").bind(AGENT_PLATFORM, account.id).run();
	const campaign = await createCampaign(account, config);
	const standin = new TelnyxStandin();
	standin.clock = () => clock.now;
	vi.spyOn(globalThis, "fetch").mockImplementation(standin.fetch);
	const pacer = pacerOf(campaign.id);
	const inject = () =>
		runInDurableObject(pacer, (object: CampaignPacer) => {
			object.clock = () => clock.now;
			object.random = jitter;
			object.dialer = telnyxDialer(env);
		});
	await inject();
	return { account, campaign, standin, pacer, inject };
}

const d1Calls = (campaignId: string) =>
	env.DB.prepare("SELECT id, contact_id, attempt, status, outcome, failure_reason FROM calls WHERE campaign_id = ?")
		.bind(campaignId)
		.all<{
			id: string;
			contact_id: string;
			attempt: number;
			status: string;
			outcome: string | null;
			failure_reason: string | null;
		}>()
		.then((result) => result.results);

describe("campaign invariants with the Telnyx adapter", () => {
	it("hold under random 503/429 outages, refused numbers, lost answers and delayed, duplicated, out-of-order signed webhooks; nobody is rung twice", {
		timeout: 240_000,
	}, async () => {
		const contacts = phones(80, 500);
		const config = {
			contacts,
			scheduled_at: "2030-03-04T15:00:00Z",
			timezone: "America/New_York",
			start_time: "09:00",
			end_time: "17:00",
			working_days: [1, 2, 3, 4, 5],
			max_concurrent_calls: 5,
			max_calls_per_day: 60,
			retry_failed: true,
			max_retry_attempts: 1,
			retry_delay_seconds: 1800,
			machine_detection: true,
		};
		const clock = { now: Date.parse("2030-03-04T13:00:00Z") };
		const rand = random(20300304);
		const { campaign, standin, pacer, inject } = await telnyxCampaign(config, clock, rand);
		const refused = new Set([contacts[3], contacts[40], contacts[71]].map((phone) => e164(phone ?? "")));
		for (const number of refused) standin.refuse.add(number);
		// Legs ring until the test lets them go on, so some are live when a lost answer is asked again.
		standin.hold = true;
		await pacer.wake(campaign.id);
		expect(standin.requests).toHaveLength(0); // before scheduled_at

		const pending: { at: number; webhook: Webhook }[] = [];
		let delivered = 0;
		let redelivered = 0;
		let faults = 0;
		for (let step = 0; step < 6_000; step++) {
			const view = await pacer.view(campaign.id);
			if (view.status === "completed" && pending.length === 0 && standin.outbox.length === 0) break;
			clock.now += Math.floor(rand() * 240_000) + 1_000;
			// Telnyx now and then: down with Retry-After, rate limiting, or an answer that never arrives.
			const roll = rand();
			if (roll < 0.03) standin.faults.push({ status: 503, retryAfter: "60" });
			else if (roll < 0.05) standin.faults.push({ status: 429, retryAfter: "5" });
			else if (roll < 0.07) standin.faults.push("lost");
			else if (roll < 0.08) standin.faults.push("network");
			faults += roll < 0.08 ? 1 : 0;
			await runDurableObjectAlarm(pacer);
			standin.release(() => rand() < 0.6);
			// Each webhook arrives within 4 minutes, in any order; one in ten twice.
			for (const webhook of standin.take()) {
				pending.push({ at: clock.now + Math.floor(rand() * 240_000), webhook });
				if (rand() < 0.1) pending.push({ at: clock.now + Math.floor(rand() * 240_000), webhook });
			}
			const due = pending.filter((entry) => entry.at <= clock.now).sort(() => rand() - 0.5);
			for (const entry of due) {
				pending.splice(pending.indexOf(entry), 1);
				const response = await deliver(call, entry.webhook.body);
				// A 5xx (a hang-up Telnyx did not take) is delivered again later, as Telnyx does.
				if (response.status >= 500) {
					redelivered++;
					pending.push({ at: clock.now + 30_000, webhook: entry.webhook });
				} else expect(response.status, await response.clone().text()).toBe(200);
				delivered++;
			}
			if (rand() < 0.02) await inject();
		}
		const view = await pacer.view(campaign.id);
		expect(view.status, JSON.stringify({ view, pending: pending.length })).toBe("completed");
		const log = await pacer.callLog();
		checkInvariants(log, windowOf(config), 5, 60, 2);
		expect(faults).toBeGreaterThan(5);
		// Lost answers were asked again, and looked for among the live calls before any new dial.
		const lookups = standin.to(`/v2/connections/${CONNECTION_ID}/active_calls`).length;
		expect(lookups).toBeGreaterThan(0);
		expect(delivered).toBeGreaterThan(log.length * 2);

		// The stand-in's own log: no call id dialled twice, so no contact attempt rang twice.
		const legsByCall = new Map<string, number>();
		for (const leg of standin.legs.values()) {
			const owner = decodeClientState(leg.clientState);
			expect(owner, leg.clientState).not.toBeNull();
			legsByCall.set(owner?.callId ?? "", (legsByCall.get(owner?.callId ?? "") ?? 0) + 1);
		}
		expect([...legsByCall.values()].every((count) => count === 1)).toBe(true);
		const rows = await d1Calls(campaign.id);
		const refusedRows = rows.filter((row) => row.failure_reason?.startsWith("Telnyx 10016"));
		expect(refusedRows.length).toBeGreaterThanOrEqual(refused.size);
		// Every call the pacer started reached Telnyx once, except the refusals, which never rang.
		expect(standin.legs.size).toBe(log.length - refusedRows.length);
		expect(standin.rang.filter((number) => refused.has(number))).toEqual([]);

		// Every contact ended with an outcome, every call is final, machines are voicemail.
		expect(await countRows("campaign_contacts", "campaign_id = ? AND status != 'done'", campaign.id)).toBe(0);
		expect(rows.every((row) => row.outcome !== null)).toBe(true);
		const outcomes = new Set(rows.map((row) => row.outcome));
		for (const outcome of ["completed", "no_answer", "busy", "failed", "voicemail"]) expect(outcomes).toContain(outcome);
		for (const row of rows.filter((r) => r.outcome === "voicemail")) {
			const number = [...standin.legs.values()].find((leg) => decodeClientState(leg.clientState)?.callId === row.id)?.to;
			expect(number?.endsWith("6")).toBe(true);
		}
		console.log(
			`telnyx load: ${log.length} calls, ${standin.legs.size} legs, ${delivered} deliveries (${redelivered} redelivered), ${faults} faults, ${standin.forwarded.length} forwarded, ${lookups} look-ups`,
		);
	});
});

describe("Telnyx refusals seen through the pacer", () => {
	const small = {
		scheduled_at: "2030-03-04T15:00:00Z",
		timezone: "America/New_York",
		start_time: "09:00",
		end_time: "17:00",
		working_days: [1, 2, 3, 4, 5],
		max_concurrent_calls: 3,
		max_calls_per_day: 10,
	};

	for (const [name, fault, waitMs] of [
		["503 with Retry-After: 120", { status: 503, retryAfter: "120" }, 120_000],
		["429 with Retry-After: 5", { status: 429, retryAfter: "5" }, 5_000],
	] as const) {
		it(`${name}: the contacts wait with their attempts unused until Retry-After, then each is rung once`, async () => {
			const clock = { now: MONDAY_NOON_NY };
			const contacts = phones(3, 700);
			const { account, campaign, standin, pacer } = await telnyxCampaign({ ...small, contacts }, clock);
			standin.faults.push(fault, fault, fault);
			await pacer.wake(campaign.id);
			expect(standin.to("/v2/calls")).toHaveLength(3);
			expect(standin.rang).toEqual([]);
			let view = await pacer.view(campaign.id);
			expect(view.status).toBe("active");
			expect(view.calls_today).toBe(0);
			expect(view.contacts).toEqual({ total: 3, pending: 3, in_flight: 0, done: 0, skipped: 0 });
			expect(view.provider.state).toBe("unavailable");
			expect(view.provider.last_error).toBe("Telnyx 10007: Unexpected error");
			expect(Date.parse(view.provider.next_try_at ?? "") - clock.now).toBe(waitMs);
			expect((await d1Calls(campaign.id)).map((row) => row.status)).toEqual(["queued", "queued", "queued"]);
			expect(await countRows("events", "account_id = ? AND type = 'campaign.provider_unavailable'", account.id)).toBe(1);

			// Not before Retry-After.
			clock.now += waitMs - 1;
			await runDurableObjectAlarm(pacer);
			expect(standin.to("/v2/calls")).toHaveLength(3);
			clock.now += 1;
			await runDurableObjectAlarm(pacer);
			for (let i = 0; i < 5; i++) {
				clock.now += 1_000;
				await runDurableObjectAlarm(pacer);
			}
			view = await pacer.view(campaign.id);
			expect(view.provider.state).toBe("available");
			expect(standin.rang.sort()).toEqual(contacts.map(e164).sort());
			for (const webhook of standin.take()) expect((await deliver(call, webhook.body)).status).toBe(200);
			view = await pacer.view(campaign.id);
			expect(view.status).toBe("completed");
			expect((await pacer.callLog()).every((placed) => placed.attempt === 1)).toBe(true);
			expect(await countRows("events", "account_id = ? AND type = 'campaign.provider_recovered'", account.id)).toBe(1);
		});
	}

	it("a number Telnyx refuses (422, code 10016) fails that attempt with Telnyx's reason; the others go on", async () => {
		const clock = { now: MONDAY_NOON_NY };
		const contacts = phones(3, 800);
		const { campaign, standin, pacer } = await telnyxCampaign({ ...small, contacts }, clock);
		standin.refuse.add(e164(contacts[1] ?? ""));
		await pacer.wake(campaign.id);
		const rows = await d1Calls(campaign.id);
		const failed = rows.filter((row) => row.status === "failed");
		expect(failed).toHaveLength(1);
		expect(failed[0]).toMatchObject({
			outcome: "failed",
			failure_reason: "Telnyx 10016: Phone number must be in +E164 format: The 'to' parameter must be in E164 format.",
		});
		const view = await pacer.view(campaign.id);
		expect(view.provider.state).toBe("available");
		expect(view.contacts.done).toBe(1);
		expect(standin.rang.sort()).toEqual([e164(contacts[0] ?? ""), e164(contacts[2] ?? "")].sort());
	});
});
