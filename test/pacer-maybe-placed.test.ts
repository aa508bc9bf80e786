import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import type { DialResult, OutboundCall } from "../workers/dialer/dialer";
import { createCampaign, dialerCallback, pacerOf, phones } from "./campaign-helpers";
import { pbxAccount } from "./helpers";
import { failD1, restoreFaults } from "./support/faults";

/**
 * Review 2: a dial whose request timed out may have been placed by the provider. The pacer
 * keeps its slot (`maybe_placed`) "until it is asked again under the same id". These tests
 * model a provider that really did take the first request, and count what it is ringing.
 */

afterEach(() => restoreFaults());

/** Monday 2030-03-04 12:00 in New York: the seed window (10:00–17:00, Mon–Fri) is open. */
const NOON = Date.parse("2030-03-04T17:00:00Z");

type Provider = {
	/** Calls the provider has placed and not yet finished. */
	ringing: Set<string>;
	/** The largest number of calls ringing at once, seen at each dial. */
	peak: number;
	asks: OutboundCall[];
};

async function setup(
	contacts: number,
	maxConcurrent: number,
	answer: (call: OutboundCall, askNumber: number, provider: Provider) => DialResult,
) {
	const account = await pbxAccount();
	const campaign = await createCampaign(account, { contacts: phones(contacts), max_concurrent_calls: maxConcurrent });
	const pacer = pacerOf(campaign.id);
	const clock = { now: NOON };
	const provider: Provider = { ringing: new Set(), peak: 0, asks: [] };
	await runInDurableObject(pacer, (object: CampaignPacer) => {
		object.clock = () => clock.now;
		object.random = () => 0.5;
		object.dialer = {
			place: async (call) => {
				provider.asks.push(call);
				const n = provider.asks.filter((ask) => ask.callId === call.callId).length;
				const result = answer(call, n, provider);
				provider.peak = Math.max(provider.peak, provider.ringing.size);
				return result;
			},
		};
	});
	return { account, campaign, pacer, clock, provider };
}

describe("a call the provider may have placed keeps its slot until the provider settles it", () => {
	it("a re-ask answered 503 (a refusal of the repeat, not of the first) keeps the slot: the cap holds", async () => {
		let first: string | null = null;
		const { campaign, pacer, clock, provider } = await setup(3, 1, (call, n, p) => {
			first ??= call.callId;
			if (call.callId === first && n === 1) {
				// The provider took it; the answer never came back.
				p.ringing.add(call.callId);
				return { kind: "transient", reason: "The provider did not answer in time.", uncertain: true };
			}
			// The provider is overloaded for a moment: it refuses the repeat (the first one still rings).
			if (call.callId === first) return { kind: "transient", reason: "HTTP 503: busy" };
			p.ringing.add(call.callId);
			return { kind: "accepted" };
		});
		await pacer.wake(campaign.id);
		expect(provider.ringing.size).toBe(1);
		expect((await pacer.view(campaign.id)).in_flight).toBe(1);
		// A few seconds of provider backoff: the first call is still ringing (no callback yet).
		for (let step = 0; step < 4; step++) {
			clock.now += 5_000;
			await runDurableObjectAlarm(pacer);
		}
		expect(provider.peak, "calls ringing at the provider at once (max_concurrent_calls = 1)").toBeLessThanOrEqual(1);
	});

	it("pause while a held call is being re-recorded, then resume: its slot is not given away", async () => {
		let first: string | null = null;
		const { campaign, pacer, clock, provider } = await setup(3, 1, (call, n, p) => {
			first ??= call.callId;
			p.ringing.add(call.callId);
			if (call.callId === first && n === 1) {
				return { kind: "transient", reason: "The provider did not answer in time.", uncertain: true };
			}
			return { kind: "accepted" };
		});
		await pacer.wake(campaign.id);
		expect(provider.ringing.size).toBe(1);
		// The backoff ran out; the holding call is restarted, but D1 is slow to record it.
		clock.now += 1_000;
		const fault = failD1("INSERT INTO calls");
		await runDurableObjectAlarm(pacer);
		const stageOf = () =>
			runInDurableObject(pacer, (_: CampaignPacer, state) =>
				state.storage.sql.exec("SELECT stage, maybe_placed FROM calls WHERE id = ?", first).one(),
			);
		expect(await stageOf()).toEqual({ stage: "recording", maybe_placed: 1 });
		await pacer.pause(campaign.id);
		// The pause backs it off as never dialled: maybe_placed is reset to 0, the slot is free.
		expect.soft(await stageOf(), "holding call after pause").toEqual({ stage: "backoff", maybe_placed: 1 });
		fault.restore();
		await pacer.resume(campaign.id);
		for (let step = 0; step < 3; step++) {
			clock.now += 2_000;
			await runDurableObjectAlarm(pacer);
		}
		expect(provider.peak, "calls ringing at the provider at once (max_concurrent_calls = 1)").toBeLessThanOrEqual(1);
	});
});

describe("cancel with a call the provider may be ringing", () => {
	it("the call stays open until its callback, which records the real outcome", async () => {
		let first: string | null = null;
		const { account, campaign, pacer, provider } = await setup(2, 1, (call, n, p) => {
			first ??= call.callId;
			p.ringing.add(call.callId);
			if (call.callId === first && n === 1) {
				return { kind: "transient", reason: "The provider did not answer in time.", uncertain: true };
			}
			return { kind: "accepted" };
		});
		await pacer.wake(campaign.id);
		const ringingId = [...provider.ringing][0] as string;
		await pacer.cancel(campaign.id);
		// "Dial requests already out are not recalled; those calls finish and are recorded."
		const answer = await dialerCallback({
			event_id: `e-${crypto.randomUUID()}`,
			call_id: ringingId,
			status: "completed",
			occurred_at: new Date().toISOString(),
			duration_seconds: 42,
		});
		expect(answer.status).toBe(200);
		const row = await env.DB.prepare("SELECT status, outcome FROM calls WHERE id = ?")
			.bind(ringingId)
			.first<{ status: string; outcome: string }>();
		expect(row?.outcome, "D1 outcome of a call the customer answered").toBe("completed");
		const contact = await env.DB.prepare("SELECT status, attempts FROM campaign_contacts WHERE campaign_id = ? AND attempts > 0")
			.bind(campaign.id)
			.all();
		expect(contact.results, "the dialled contact's record").toHaveLength(1);
		void account;
	});
});

describe("a call the provider did place ends by its callback while it waits in backoff", () => {
	it("it still gets its call.started", async () => {
		let first: string | null = null;
		const { account, campaign, pacer, clock, provider } = await setup(2, 1, (call, n, p) => {
			first ??= call.callId;
			p.ringing.add(call.callId);
			if (call.callId === first && n === 1) {
				return { kind: "transient", reason: "The provider did not answer in time.", uncertain: true };
			}
			return { kind: "accepted" };
		});
		await pacer.wake(campaign.id);
		const ringingId = [...provider.ringing][0] as string;
		const answer = await dialerCallback({
			event_id: `e-${crypto.randomUUID()}`,
			call_id: ringingId,
			status: "completed",
			occurred_at: new Date().toISOString(),
		});
		expect(answer.status).toBe(200);
		clock.now += 5_000;
		await pacer.wake(campaign.id);
		const log = await pacer.callLog();
		expect(log.find((c) => c.id === ringingId)?.outcome).toBe("completed");
		const started = await env.DB.prepare(
			"SELECT count(*) AS n FROM events WHERE account_id = ? AND type = 'call.started' AND payload LIKE '%' || ? || '%'",
		)
			.bind(account.id, ringingId)
			.first<{ n: number }>();
		const completed = await env.DB.prepare("SELECT count(*) AS n FROM events WHERE account_id = ? AND type = 'call.completed'")
			.bind(account.id)
			.first<{ n: number }>();
		expect(completed?.n).toBeGreaterThanOrEqual(1);
		// Control: the other contact's accepted call has its call.started, found by the same query.
		const other = log.find((c) => c.id !== ringingId)?.id as string;
		const otherStarted = await env.DB.prepare(
			"SELECT count(*) AS n FROM events WHERE account_id = ? AND type = 'call.started' AND payload LIKE '%' || ? || '%'",
		)
			.bind(account.id, other)
			.first<{ n: number }>();
		expect(otherStarted?.n, "control").toBe(1);
		expect(started?.n, "call.started for a call that completed").toBe(1);
	});
});
