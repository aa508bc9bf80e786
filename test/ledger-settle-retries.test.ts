import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import { ContactLedger, contactLedgerOf } from "../durable-objects/contact-ledger";
import { createCampaign, pacerOf } from "./campaign-helpers";
import { callJson, pbxAccount } from "./helpers";
import { failD1, failMethod, restoreFaults } from "./support/faults";

/**
 * The pacer's report to the contact ledger (`settle`: confirms and give-backs) when the ledger
 * or D1 fails: it is retried on its own backoff, needs nothing from D1, and neither outage
 * turns the pacer's alarm into a loop or makes a provider callback wait on the ledger.
 */

afterEach(() => restoreFaults());

/** Monday 11:00 in New York: inside the seed payload's window (10:00–17:00, weekdays). */
const T0 = Date.parse("2030-03-04T16:00:00Z");
const e164 = (local: string) => `+84${local.slice(1)}`;
type Account = Awaited<ReturnType<typeof pbxAccount>>;

/** A campaign of one number whose provider takes every call, on the test's clock, with the ledger on it too. */
async function oneCallCampaign(account: Account, number: string, clock: { now: number }) {
	const put = await callJson("/api/account/contact-policy", {
		method: "PUT",
		token: account.token,
		body: { max_attempts_per_number: { count: 1, days: 1 } },
	});
	expect(put.status).toBe(200);
	await runInDurableObject(contactLedgerOf(env, account.id), (ledger: ContactLedger) => {
		ledger.clock = () => clock.now;
	});
	const created = await createCampaign(account, { contacts: [number], max_concurrent_calls: 10 });
	const pacer = pacerOf(created.id);
	await runInDurableObject(pacer, (object: CampaignPacer) => {
		object.clock = () => clock.now;
		object.random = () => 0.5;
		object.dialer = { place: async () => ({ kind: "accepted" }) };
	});
	return { id: created.id, pacer };
}

const alarmOf = (pacer: ReturnType<typeof pacerOf>) =>
	runInDurableObject(pacer, (_: CampaignPacer, state) => state.storage.getAlarm());

describe("a settle that failed, then D1 failing", () => {
	it("the report reaches the ledger while D1 is down, and the alarm backs off instead of firing at once, over and over", async () => {
		const account = await pbxAccount();
		const clock = { now: T0 };
		const number = "0987099010";
		const campaign = await oneCallCampaign(account, number, clock);
		const settle = failMethod(ContactLedger.prototype, "settle");
		await campaign.pacer.wake(campaign.id);
		expect(await campaign.pacer.unsettled()).toEqual({ placed: 1, released: 0 });
		settle.restore();

		// The settle's retry time passes while D1 is down; then the call's callback comes, whose
		// round stops at the failed write (D1 must learn of the call's end).
		const d1 = failD1("UPDATE autocall_campaigns");
		clock.now += 5_000;
		const [open] = await campaign.pacer.openCalls();
		expect(await campaign.pacer.callEnded(campaign.id, open?.id ?? "", "completed")).toBe(true);
		expect(d1.failed).toBe(1);
		// The report went to the ledger all the same: D1 plays no part in it.
		expect(await campaign.pacer.unsettled()).toEqual({ placed: 0, released: 0 });
		const ledger = contactLedgerOf(env, account.id);
		expect(await ledger.countsOf(e164(number), 0)).toEqual({ placed: 1, reserved: 0 });
		// Follow the alarm as the runtime would, for a minute of the outage (an alarm in the past runs at once).
		const wakes: number[] = [];
		for (;;) {
			const alarm = await alarmOf(campaign.pacer);
			expect(alarm, "an alarm is set while D1 lacks the record").not.toBeNull();
			expect((alarm ?? 0) - clock.now, "the next alarm is at least a second ahead").toBeGreaterThanOrEqual(1_000);
			clock.now = Math.max(clock.now, alarm ?? clock.now);
			if (clock.now > T0 + 65_000 || wakes.length >= 50) break;
			wakes.push(clock.now - T0);
			await runDurableObjectAlarm(campaign.pacer);
		}
		// The record's own backoff (1 s doubling): one write per alarm, six in the minute.
		expect(wakes).toEqual([6_000, 8_000, 12_000, 20_000, 36_000]);
		expect(d1.failed).toBe(6);
		expect(await campaign.pacer.unrecorded()).toMatchObject({ rows: 2 });
		d1.restore();
		await runDurableObjectAlarm(campaign.pacer);
		expect(await campaign.pacer.unrecorded()).toEqual({ rows: 0, events: 0 });
	});

	it("a retry time already past never sets the alarm sooner than a second ahead (the record's and the ledger's)", async () => {
		const account = await pbxAccount();
		const clock = { now: T0 };
		const campaign = await oneCallCampaign(account, "0987099011", clock);
		await campaign.pacer.wake(campaign.id);
		const [open] = await campaign.pacer.openCalls();
		// Both kinds of write outstanding, each with a retry time three seconds past, as a round that stopped early leaves them.
		const alarm = await runInDurableObject(campaign.pacer, async (pacer: CampaignPacer, state) => {
			state.storage.sql.exec("INSERT INTO sync (kind, id, seq) VALUES ('call', ?, 1000)", open?.id ?? "");
			state.storage.sql.exec("INSERT INTO ledger_releases (call_id) VALUES ('not-a-call')");
			state.storage.kv.put("record_retry_at", clock.now - 3_000);
			state.storage.kv.put("ledger_retry_at", clock.now - 3_000);
			(pacer as unknown as { scheduleAlarm(now: number): void }).scheduleAlarm(clock.now);
			await new Promise((resolve) => setTimeout(resolve, 50));
			return state.storage.getAlarm();
		});
		expect(alarm).toBe(clock.now + 1_000);
	});
});

describe("a ledger outage and the rounds in between its retries", () => {
	it("a provider callback's round does not ask the ledger (it would wait for it); the alarm at the retry time does", async () => {
		const account = await pbxAccount();
		const clock = { now: T0 };
		const number = "0987099012";
		const campaign = await oneCallCampaign(account, number, clock);
		const settle = failMethod(ContactLedger.prototype, "settle");
		await campaign.pacer.wake(campaign.id);
		// One try for the whole wake (its second round is within the backoff); retry in 1 s.
		expect(settle.hits).toBe(1);
		expect(await alarmOf(campaign.pacer)).toBe(T0 + 1_000);

		// The call's callback arrives inside the backoff: its round ends the call and stops there.
		clock.now = T0 + 500;
		const [open] = await campaign.pacer.openCalls();
		expect(await campaign.pacer.callEnded(campaign.id, open?.id ?? "", "completed")).toBe(true);
		expect(settle.hits).toBe(1);
		expect(await campaign.pacer.view(campaign.id)).toMatchObject({ status: "completed", contacts: { done: 1 } });
		expect(await alarmOf(campaign.pacer)).toBe(T0 + 1_000);

		// The alarm at the retry time tries again (still down: the next in 2 s), then gets through.
		clock.now = T0 + 1_000;
		await runDurableObjectAlarm(campaign.pacer);
		expect(settle.hits).toBe(2);
		expect(await alarmOf(campaign.pacer)).toBe(T0 + 3_000);
		settle.restore();
		clock.now = T0 + 3_000;
		await runDurableObjectAlarm(campaign.pacer);
		expect(await campaign.pacer.unsettled()).toEqual({ placed: 0, released: 0 });
		// Stamped when the provider took the call.
		expect(await contactLedgerOf(env, account.id).countsOf(e164(number), T0 - 1)).toEqual({ placed: 1, reserved: 0 });
	});
});
