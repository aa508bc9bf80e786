import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import { type ContactLedger, contactLedgerOf } from "../durable-objects/contact-ledger";
import type { DialResult, OutboundCall } from "../workers/dialer/dialer";
import { createCampaign, pacerOf } from "./campaign-helpers";
import { callJson, pbxAccount } from "./helpers";
import { restoreFaults } from "./support/faults";

/**
 * A call the provider may have placed (its dial got no answer) that ends `timeout` without
 * ever being confirmed: its ledger count must not stay a reservation, or every other campaign's
 * claim of the number waits (never refused) until the count ages out of the cap's window, and
 * such a campaign never completes. It counts as placed, stamped at its last ask.
 */

afterEach(() => restoreFaults());

const DAY = 24 * 60 * 60 * 1000;
/** Monday 11:00 in New York: inside the seed payload's window (10:00–17:00, weekdays). */
const T0 = Date.parse("2030-03-04T16:00:00Z");
const e164 = (local: string) => `+84${local.slice(1)}`;
type Account = Awaited<ReturnType<typeof pbxAccount>>;

async function putPolicy(account: Account, body: Record<string, unknown>) {
	const put = await callJson("/api/account/contact-policy", { method: "PUT", token: account.token, body });
	expect(put.status).toBe(200);
}

const ledgerOn = (account: Account, clock: { now: number }) =>
	runInDurableObject(contactLedgerOf(env, account.id), (ledger: ContactLedger) => {
		ledger.clock = () => clock.now;
	});

async function campaignPlacing(
	account: Account,
	contacts: string[],
	clock: { now: number },
	place: (call: OutboundCall) => Promise<DialResult>,
	overrides: Record<string, unknown> = {},
) {
	const created = await createCampaign(account, { contacts, max_concurrent_calls: 10, ...overrides });
	const pacer = pacerOf(created.id);
	await runInDurableObject(pacer, (object: CampaignPacer) => {
		object.clock = () => clock.now;
		object.random = () => 0.5;
		object.dialer = { place };
	});
	return { id: created.id, pacer };
}

const resetConnection = async (): Promise<DialResult> => {
	throw new TypeError("connection reset");
};

describe("a maybe-placed call that ends `timeout` counts as placed, stamped at its last ask", () => {
	it("cancelled while its dial had no answer: after its deadline another campaign's contact ends skipped max_attempts and that campaign completes", async () => {
		const account = await pbxAccount();
		await putPolicy(account, { max_attempts_per_number: { count: 1, days: 7 } });
		const clock = { now: T0 };
		await ledgerOn(account, clock);
		const number = "0987099001";
		const ledger = contactLedgerOf(env, account.id);

		// A's one dial gets no answer (the provider may have placed it); A is cancelled, so the
		// call stays open until its deadline and is closed as `timeout`.
		const a = await campaignPlacing(account, [number], clock, resetConnection);
		await a.pacer.wake(a.id);
		expect(await ledger.countsOf(e164(number), 0)).toEqual({ placed: 0, reserved: 1 });
		expect((await a.pacer.cancel(a.id)).status).toBe("cancelled");
		clock.now += 901_000;
		await runDurableObjectAlarm(a.pacer);
		expect((await a.pacer.view(a.id)).contacts).toMatchObject({ done: 1, in_flight: 0 });
		expect(await a.pacer.unsettled()).toEqual({ placed: 0, released: 0 });
		// Placed, stamped at the ask (T0), not at the timeout.
		expect(await ledger.countsOf(e164(number), T0 - 1)).toEqual({ placed: 1, reserved: 0 });
		expect(await ledger.countsOf(e164(number), T0)).toEqual({ placed: 0, reserved: 0 });

		// B, same number: refused for good at once (before: `wait`, every ~30 s, for 7 days).
		const placedByB: string[] = [];
		const b = await campaignPlacing(account, [number], clock, async (call) => {
			placedByB.push(call.to);
			return { kind: "accepted" };
		});
		await b.pacer.wake(b.id);
		expect(placedByB).toEqual([]);
		expect(await b.pacer.view(b.id)).toMatchObject({ status: "completed", contacts: { skipped: 1, pending: 0 } });
		const skipped = await env.DB.prepare("SELECT status, skip_reason FROM campaign_contacts WHERE campaign_id = ?")
			.bind(b.id)
			.first<{ status: string; skip_reason: string }>();
		expect(skipped).toEqual({ status: "skipped", skip_reason: "max_attempts" });

		// Seven days after the ask, the number is free again.
		clock.now = T0 + 7 * DAY + 1;
		const placedByC: string[] = [];
		const c = await campaignPlacing(account, [number], clock, async (call) => {
			placedByC.push(call.to);
			return { kind: "accepted" };
		});
		await c.pacer.wake(c.id);
		expect(placedByC).toEqual([e164(number)]);
	});

	it("held past any call's length, then closed as timeout because its recipient's hours no longer meet the window: placed, at its last ask", async () => {
		const account = await pbxAccount();
		await putPolicy(account, {
			recipient_hours: { start: "08:00", end: "21:00" },
			max_attempts_per_number: { count: 1, days: 1 },
		});
		// 20:59:59 in Honolulu; a UTC campaign open at every minute.
		const clock = { now: Date.parse("2030-03-05T06:59:59Z") };
		await ledgerOn(account, clock);
		const honolulu = "+18085550190";
		let asks = 0;
		let askedAt = 0;
		const a = await campaignPlacing(
			account,
			[honolulu],
			clock,
			async () => {
				asks++;
				askedAt = clock.now;
				throw new TypeError("connection reset");
			},
			{
				scheduled_at: "2030-03-04T00:00:00Z",
				timezone: "UTC",
				start_time: "00:00",
				end_time: "23:59",
				working_days: [1, 2, 3, 4, 5, 6, 7],
				max_concurrent_calls: 1,
			},
		);
		await a.pacer.wake(a.id);
		expect(asks).toBe(1);
		// 08:00–17:00 UTC is 22:00–07:00 in Honolulu: the held call can never be asked again inside its hours.
		const patched = await callJson(`/api/autocall/campaigns/${a.id}`, {
			method: "PATCH",
			token: account.token,
			body: { start_time: "08:00", end_time: "17:00" },
		});
		expect(patched.status).toBe(200);
		clock.now = askedAt + 900_000;
		await runDurableObjectAlarm(a.pacer);
		expect(asks).toBe(1);
		expect(await a.pacer.view(a.id)).toMatchObject({ status: "completed", contacts: { done: 1 } });
		const call = await env.DB.prepare("SELECT status FROM calls WHERE campaign_id = ?").bind(a.id).first<{ status: string }>();
		expect(call?.status).toBe("timeout");
		expect(await a.pacer.unsettled()).toEqual({ placed: 0, released: 0 });
		const ledger = contactLedgerOf(env, account.id);
		expect(await ledger.countsOf(honolulu, askedAt - 1)).toEqual({ placed: 1, reserved: 0 });
		expect(await ledger.countsOf(honolulu, askedAt)).toEqual({ placed: 0, reserved: 0 });
		// Another call of the number is refused for good, not held back.
		const [answer] = await ledger.claim([{ callId: crypto.randomUUID(), phone: honolulu, maybePlaced: false }], {
			count: 1,
			days: 1,
		});
		expect(answer).toMatchObject({ verdict: "skip", reason: "max_attempts" });
	});

	it("a provider's `timeout` callback for a call whose dial got no answer confirms it too", async () => {
		const account = await pbxAccount();
		await putPolicy(account, { max_attempts_per_number: { count: 1, days: 1 } });
		const clock = { now: T0 };
		await ledgerOn(account, clock);
		const number = "0987099002";
		const a = await campaignPlacing(account, [number], clock, resetConnection);
		await a.pacer.wake(a.id);
		const ledger = contactLedgerOf(env, account.id);
		expect(await ledger.countsOf(e164(number), 0)).toEqual({ placed: 0, reserved: 1 });
		const [held] = await runInDurableObject(a.pacer, (_: CampaignPacer, state) =>
			state.storage.sql.exec<{ id: string }>("SELECT id FROM calls").toArray(),
		);
		clock.now += 60_000;
		expect(await a.pacer.callEnded(a.id, held?.id ?? "", "timeout")).toBe(true);
		expect(await a.pacer.unsettled()).toEqual({ placed: 0, released: 0 });
		expect(await ledger.countsOf(e164(number), T0 - 1)).toEqual({ placed: 1, reserved: 0 });
	});
});
