import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { CallOutcome } from "../durable-objects/campaign/pacing";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import { ContactLedger, contactLedgerOf } from "../durable-objects/contact-ledger";
import type { AttemptCap } from "../durable-objects/ledger-claims";
import type { DialResult, OutboundCall } from "../workers/dialer/dialer";
import { createCampaign, pacerOf, phones, random, takeOver } from "./campaign-helpers";
import { callJson, countRows, pbxAccount } from "./helpers";
import { failMethod, restoreFaults } from "./support/faults";

/**
 * Campaigns and the account's contact ledger: the do-not-call list and max_attempts_per_number
 * are checked at the moment each call goes out, by one ledger per account, also when several
 * campaigns dial the same numbers at once and when the ledger fails.
 */

const restorers: (() => void)[] = [];
afterEach(() => {
	for (const restore of restorers.splice(0)) restore();
	restoreFaults();
});

const HOUR = 60 * 60 * 1000;
/** Monday 11:00 in New York: inside the seed payload's window (10:00–17:00, weekdays). */
const T0 = Date.parse("2030-03-04T16:00:00Z");

type Account = Awaited<ReturnType<typeof pbxAccount>>;

/** The account's max_attempts_per_number, PUT before its campaigns are created (each pacer starts with it). */
async function capAttempts(account: Account, cap: AttemptCap) {
	const put = await callJson("/api/account/contact-policy", {
		method: "PUT",
		token: account.token,
		body: { max_attempts_per_number: cap },
	});
	expect(put.status).toBe(200);
}

/** The ledger counts on the test's clock, as the pacers do. */
const ledgerOn = (account: Account, clock: { now: number }) =>
	runInDurableObject(contactLedgerOf(env, account.id), (ledger: ContactLedger) => {
		ledger.clock = () => clock.now;
	});

async function campaignOf(
	account: Account,
	contacts: string[],
	clock: { now: number },
	dialled: OutboundCall[],
	overrides: Record<string, unknown> = {},
) {
	const created = await createCampaign(account, { contacts, max_concurrent_calls: 10, ...overrides });
	const { inject } = takeOver(created.id, clock, dialled);
	await inject();
	return { id: created.id, pacer: pacerOf(created.id), inject };
}

const listNumbers = async (account: Account, numbers: string[]) => {
	const listed = await callJson("/api/compliance/dnc", { token: account.token, body: { phones: numbers } });
	expect(listed.status).toBe(201);
};

const e164 = (local: string) => `+84${local.slice(1)}`;

const dialsPer = (dialled: OutboundCall[]) => {
	const counts = new Map<string, number>();
	for (const call of dialled) counts.set(call.to, (counts.get(call.to) ?? 0) + 1);
	return counts;
};

async function endOpenCalls(campaign: { id: string; pacer: ReturnType<typeof pacerOf> }, outcome: "completed" | "no_answer") {
	for (const open of await campaign.pacer.openCalls()) await campaign.pacer.callEnded(campaign.id, open.id, outcome);
}

describe("the do-not-call list in campaigns", () => {
	it("a listed contact is never dialled: it ends skipped, counted live, with contact.skipped and the reason", async () => {
		const account = await pbxAccount();
		const contacts = phones(5, 1_000);
		const listed = [contacts[1], contacts[3]] as string[];
		await listNumbers(account, listed);
		const clock = { now: T0 };
		const dialled: OutboundCall[] = [];
		const campaign = await campaignOf(account, contacts, clock, dialled);

		const live = await campaign.pacer.wake(campaign.id);
		expect(dialled.map((call) => call.to).sort()).toEqual([contacts[0], contacts[2], contacts[4]].map((p) => e164(p as string)));
		expect(live.contacts).toEqual({ total: 5, pending: 0, in_flight: 3, done: 0, skipped: 2 });

		// D1: the contacts and their undialled calls end skipped, and each has its event.
		expect(await countRows("campaign_contacts", "campaign_id = ? AND status = 'skipped'", campaign.id)).toBe(2);
		const { results: skippedCalls } = await env.DB.prepare(
			"SELECT to_phone, status, outcome, failure_reason, ended_at FROM calls WHERE campaign_id = ? AND status = 'skipped' ORDER BY to_phone",
		)
			.bind(campaign.id)
			.all<{ to_phone: string; status: string; outcome: string; failure_reason: string; ended_at: string | null }>();
		expect(skippedCalls.map((c) => [c.to_phone, c.outcome, c.failure_reason])).toEqual(
			listed.map((phone) => [e164(phone), "skipped", "do_not_call"]),
		);
		expect(skippedCalls.every((c) => c.ended_at !== null)).toBe(true);
		const { results: events } = await env.DB.prepare(
			"SELECT payload FROM events WHERE account_id = ? AND type = 'contact.skipped'",
		)
			.bind(account.id)
			.all<{ payload: string }>();
		const data = events.map((event) => (JSON.parse(event.payload) as { data: Record<string, unknown> }).data);
		expect(data.map((d) => [d.phone, d.reason, d.campaign_id]).sort()).toEqual(
			listed.map((phone) => [e164(phone), "do_not_call", campaign.id]),
		);
		expect(data.every((d) => typeof d.contact_id === "string")).toBe(true);

		// The rest completes; the campaign completes with the skipped contacts final, never dialled.
		await endOpenCalls(campaign, "completed");
		const view = await callJson<{ status: string; live: { contacts: Record<string, number> } }>(
			`/api/autocall/campaigns/${campaign.id}`,
			{ token: account.token },
		);
		expect(view.body.status).toBe("completed");
		expect(view.body.live.contacts).toEqual({ total: 5, pending: 0, in_flight: 0, done: 3, skipped: 2 });
		expect(dialled).toHaveLength(3);
		const calls = await callJson<{ data: { status: string; failure_reason: string | null }[] }>(
			`/api/autocall/campaigns/${campaign.id}/calls`,
			{ token: account.token },
		);
		expect(calls.body.data.filter((c) => c.status === "skipped").map((c) => c.failure_reason)).toEqual([
			"do_not_call",
			"do_not_call",
		]);
	});

	it("a number listed after the campaign started is skipped from then on, a retry included; one taken off is dialled again", async () => {
		const account = await pbxAccount();
		// Ending in 7: the first call of contact 0 ends no_answer and is retried.
		const contacts = ["0987001117", "0987001121", "0987001131", "0987001141"];
		const clock = { now: T0 };
		const dialled: OutboundCall[] = [];
		const campaign = await campaignOf(account, contacts, clock, dialled, {
			max_concurrent_calls: 1,
			retry_failed: true,
			max_retry_attempts: 1,
			retry_delay_seconds: 60,
		});
		await campaign.pacer.wake(campaign.id);
		expect(dialled.map((call) => call.to)).toEqual([e164(contacts[0] as string)]);

		// Listed while the campaign runs: contacts 1 and 2 are skipped when their turn comes, and so is contact 0's retry.
		await listNumbers(account, [contacts[0], contacts[1], contacts[2]] as string[]);
		await endOpenCalls(campaign, "no_answer");
		expect(dialled.map((call) => call.to)).toEqual([contacts[0], contacts[3]].map((phone) => e164(phone as string)));
		await endOpenCalls(campaign, "completed");
		clock.now += 2 * 60_000;
		await runDurableObjectAlarm(campaign.pacer);
		expect(dialled).toHaveLength(2);
		const view = await campaign.pacer.view(campaign.id);
		expect(view).toMatchObject({ status: "completed", contacts: { in_flight: 0, done: 1, skipped: 3 } });

		// Taken off the list: a later campaign dials it.
		const removed = await callJson(`/api/compliance/dnc/${contacts[1]}`, { token: account.token, method: "DELETE" });
		expect(removed.status).toBe(204);
		const later = await campaignOf(account, [contacts[1], contacts[2]] as string[], clock, dialled);
		await later.pacer.wake(later.id);
		expect(dialled.slice(2).map((call) => call.to)).toEqual([e164(contacts[1] as string)]);
		expect((await later.pacer.view(later.id)).contacts).toMatchObject({ in_flight: 1, skipped: 1 });
	});
});

describe("max_attempts_per_number across campaigns", () => {
	it("is exact when five campaigns dial the same ten numbers at once, and rolls over after exactly days × 24 h", {
		timeout: 60_000,
	}, async () => {
		const account = await pbxAccount();
		await capAttempts(account, { count: 2, days: 1 });
		const clock = { now: T0 };
		await ledgerOn(account, clock);
		const numbers = phones(10, 2_000);
		const dialled: OutboundCall[] = [];
		const campaigns = [];
		for (let i = 0; i < 5; i++) campaigns.push(await campaignOf(account, numbers, clock, dialled));

		// Every pacer clears its round with the one ledger at the same moment. Claims that find two
		// dials of a number cleared and not yet confirmed placed wait; asked again once those are
		// placed, they are refused for good.
		await Promise.all(campaigns.map((campaign) => campaign.pacer.wake(campaign.id)));
		clock.now += 61_000;
		await Promise.all(campaigns.map((campaign) => runDurableObjectAlarm(campaign.pacer)));
		const perNumber = dialsPer(dialled);
		expect([...perNumber.keys()].sort()).toEqual(numbers.map(e164).sort());
		expect([...perNumber.values()]).toEqual(Array(10).fill(2));
		let skipped = 0;
		for (const campaign of campaigns) {
			const view = await campaign.pacer.view(campaign.id);
			expect(view.contacts.in_flight + view.contacts.skipped).toBe(10);
			skipped += view.contacts.skipped;
		}
		expect(skipped).toBe(30);
		expect(await countRows("events", "account_id = ? AND type = 'contact.skipped'", account.id)).toBe(30);
		const { results } = await env.DB.prepare(
			"SELECT DISTINCT failure_reason FROM calls WHERE account_id = ? AND status = 'skipped'",
		)
			.bind(account.id)
			.all<{ failure_reason: string }>();
		expect(results).toEqual([{ failure_reason: "max_attempts" }]);
		for (const campaign of campaigns) await endOpenCalls(campaign, "completed");

		// A millisecond before 24 h have passed, both attempts still count; at 24 h they no longer do.
		clock.now = T0 + 24 * HOUR - 1;
		const early = await campaignOf(account, numbers, clock, dialled);
		await early.pacer.wake(early.id);
		expect(dialled).toHaveLength(20);
		expect((await early.pacer.view(early.id)).contacts).toMatchObject({ skipped: 10, done: 0 });

		clock.now = T0 + 24 * HOUR;
		const next = [];
		for (let i = 0; i < 3; i++) next.push(await campaignOf(account, numbers, clock, dialled));
		await Promise.all(next.map((campaign) => campaign.pacer.wake(campaign.id)));
		expect([...dialsPer(dialled.slice(20)).values()]).toEqual(Array(10).fill(2));
	});

	it("a contact's retries count too: a number gets its cap over all of one campaign's attempts", async () => {
		const account = await pbxAccount();
		await capAttempts(account, { count: 2, days: 1 });
		const clock = { now: T0 };
		await ledgerOn(account, clock);
		const dialled: OutboundCall[] = [];
		const campaign = await campaignOf(account, ["0987003007"], clock, dialled, {
			retry_failed: true,
			max_retry_attempts: 3,
			retry_delay_seconds: 60,
		});
		await campaign.pacer.wake(campaign.id);
		for (let round = 0; round < 3; round++) {
			await endOpenCalls(campaign, "no_answer");
			clock.now += 2 * 60_000;
			await runDurableObjectAlarm(campaign.pacer);
		}
		expect(dialled).toHaveLength(2);
		expect(await campaign.pacer.view(campaign.id)).toMatchObject({ status: "completed", contacts: { skipped: 1, done: 0 } });
	});
});

/** A campaign on the test's clock whose dials go to `place`. */
async function campaignPlacing(
	account: Account,
	contacts: string[],
	clock: { now: number },
	place: (call: OutboundCall) => Promise<DialResult>,
) {
	const created = await createCampaign(account, { contacts, max_concurrent_calls: 10 });
	const pacer = pacerOf(created.id);
	const inject = () =>
		runInDurableObject(pacer, (object: CampaignPacer) => {
			object.clock = () => clock.now;
			object.random = () => 0.5;
			object.dialer = { place };
		});
	await inject();
	return { id: created.id, pacer, inject };
}

describe("max_attempts_per_number counts placed calls, not clearances", () => {
	it("a dial the provider refused (503, never placed) holds another campaign's claim back without refusing it; once cancelled, that campaign dials the number", async () => {
		const account = await pbxAccount();
		await capAttempts(account, { count: 1, days: 1 });
		const clock = { now: T0 };
		await ledgerOn(account, clock);
		const number = "0987013101";
		const placed: string[] = [];

		// Campaign A: its provider refuses for now (a 503: the call was never placed, "not a call attempt").
		const a = await campaignPlacing(account, [number], clock, async () => ({ kind: "transient", reason: "HTTP 503" }));
		await a.pacer.wake(a.id);
		const ledger = contactLedgerOf(env, account.id);
		expect(await ledger.countsOf(e164(number), 0)).toEqual({ placed: 0, reserved: 1 });
		// Campaign B, same number, a working provider: its claim waits (A may yet place its call), nothing is refused.
		const b = await campaignPlacing(account, [number], clock, async (call) => {
			placed.push(call.to);
			return { kind: "accepted" };
		});
		await b.pacer.wake(b.id);
		expect(await b.pacer.view(b.id)).toMatchObject({ contacts: { pending: 1, skipped: 0 }, in_flight: 0 });
		expect(await countRows("campaign_contacts", "campaign_id = ? AND attempts > 0", b.id)).toBe(0);

		// A is cancelled before its provider recovers: its call is never placed, and its reservation goes back.
		expect((await a.pacer.cancel(a.id)).status).toBe("cancelled");
		clock.now += 2 * 60_000;
		await runDurableObjectAlarm(a.pacer);
		expect(await ledger.attemptsOf(e164(number), 0)).toBe(0);
		clock.now += 2 * 60_000;
		await runDurableObjectAlarm(b.pacer);
		expect(placed).toEqual([e164(number)]);
		expect(await b.pacer.view(b.id)).toMatchObject({ contacts: { skipped: 0, in_flight: 1 } });
		expect(await ledger.countsOf(e164(number), 0)).toEqual({ placed: 1, reserved: 0 });
	});

	it("a waiting contact that comes due while its round is still running is decided again at once, not when a call ends", async () => {
		const account = await pbxAccount();
		await capAttempts(account, { count: 1, days: 1 });
		const clock = { now: T0 };
		await ledgerOn(account, clock);
		const number = "0987013121";
		// A's dial of the number is refused for now: its reservation makes B's claim wait (3 s × 1.5 with the test's jitter).
		const a = await campaignPlacing(account, [number], clock, async () => ({ kind: "transient", reason: "HTTP 503" }));
		await a.pacer.wake(a.id);
		const dialled: OutboundCall[] = [];
		const b = await campaignOf(account, [number, "0987013122"], clock, dialled);
		await runInDurableObject(b.pacer, (pacer: CampaignPacer) => {
			pacer.random = () => 0.5;
		});
		await b.pacer.wake(b.id);
		expect(dialled.map((call) => call.to)).toEqual([e164("0987013122")]);
		// The round's last steps (its D1 write, say) take until after the wait: the alarm is set as
		// the round ends. Then nothing ends a call for a quarter of an hour, yet the contact is due.
		clock.now = T0 + 5_000;
		const alarm = await runInDurableObject(b.pacer, async (pacer: CampaignPacer, state) => {
			(pacer as unknown as { scheduleAlarm(now: number): void }).scheduleAlarm(clock.now);
			await new Promise((resolve) => setTimeout(resolve, 50));
			return state.storage.getAlarm();
		});
		expect(alarm).toBe(T0 + 5_000);
	});

	it("a provider's permanent refusal gives the count back: the number is not spent", async () => {
		const account = await pbxAccount();
		await capAttempts(account, { count: 1, days: 1 });
		const clock = { now: T0 };
		await ledgerOn(account, clock);
		const number = "0987013111";
		const a = await campaignPlacing(account, [number], clock, async () => ({ kind: "permanent", reason: "HTTP 403" }));
		await a.pacer.wake(a.id);
		expect(await a.pacer.view(a.id)).toMatchObject({ status: "completed", contacts: { done: 1 } });
		const ledger = contactLedgerOf(env, account.id);
		expect(await ledger.attemptsOf(e164(number), 0)).toBe(0);
		const dialled: OutboundCall[] = [];
		const b = await campaignOf(account, [number], clock, dialled);
		await b.pacer.wake(b.id);
		expect(dialled.map((call) => call.to)).toEqual([e164(number)]);
	});

	it("the window runs from when the provider took the call: cap 1 a day and a ledger answer 2 s late never give two dials less than 24 h apart", async () => {
		const account = await pbxAccount();
		await capAttempts(account, { count: 1, days: 1 });
		const clock = { now: T0 };
		await ledgerOn(account, clock);
		const number = "0987013201";
		const dials: { campaign: string; at: number }[] = [];

		// The first claim is decided (and stamped) at T0; its answer reaches the pacer 2 s later
		// (well inside the pacer's 5 s deadline), and the dial goes out then.
		const prototype = ContactLedger.prototype as unknown as { claim: (...args: unknown[]) => unknown };
		const original = prototype.claim;
		let slow = 1;
		prototype.claim = async function (this: unknown, ...args: unknown[]) {
			const answer = original.apply(this, args);
			if (slow-- > 0) clock.now += 2_000;
			return answer;
		};
		restorers.push(() => {
			prototype.claim = original;
		});

		const a = await campaignPlacing(account, [number], clock, async () => {
			dials.push({ campaign: "a", at: clock.now });
			return { kind: "accepted" };
		});
		await a.pacer.wake(a.id);
		for (const open of await a.pacer.openCalls()) await a.pacer.callEnded(a.id, open.id, "completed");
		expect(dials).toEqual([{ campaign: "a", at: T0 + 2_000 }]);

		// 24 h after the ledger's clearance, 23:59:58 after A's dial: B asks for the same number, and is refused.
		clock.now = T0 + 24 * HOUR;
		const b = await campaignPlacing(account, [number], clock, async () => {
			dials.push({ campaign: "b", at: clock.now });
			return { kind: "accepted" };
		});
		await b.pacer.wake(b.id);
		expect(dials).toHaveLength(1);
		expect(await b.pacer.view(b.id)).toMatchObject({ contacts: { skipped: 1 } });
		// 24 h after A's dial was taken: a third campaign dials it.
		clock.now = T0 + 2_000 + 24 * HOUR;
		const c = await campaignPlacing(account, [number], clock, async () => {
			dials.push({ campaign: "c", at: clock.now });
			return { kind: "accepted" };
		});
		await c.pacer.wake(c.id);
		expect(dials.map((dial) => dial.campaign)).toEqual(["a", "c"]);
		expect((dials[1]?.at ?? 0) - (dials[0]?.at ?? 0)).toBe(24 * HOUR);
	});
});

describe("confirms to the ledger and their faults", () => {
	/** Campaign A dials the number (cap 1) with the ledger's confirm failing as `fault` says; campaign B wants it too. */
	async function confirmFails(fault: "throw" | "lose-answer" | "late" | "evicted") {
		const account = await pbxAccount();
		await capAttempts(account, { count: 1, days: 1 });
		const clock = { now: T0 };
		await ledgerOn(account, clock);
		const number = `09870134${String(["throw", "lose-answer", "late", "evicted"].indexOf(fault)).padStart(2, "0")}`;
		const dialled: OutboundCall[] = [];
		const a = await campaignOf(account, [number], clock, dialled);
		const ledger = contactLedgerOf(env, account.id);
		// Every report fails until the fault is lifted (the round after the dial's sends it again at
		// once, and an alarm the create set on the real clock may run another).
		const lift: (() => void)[] = [];
		if (fault === "throw" || fault === "evicted") lift.push(failMethod(ContactLedger.prototype, "settle").restore);
		if (fault === "lose-answer") lift.push(failMethod(ContactLedger.prototype, "settle", { mode: "lose-answer" }).restore);
		if (fault === "late") {
			await runInDurableObject(a.pacer, (pacer: CampaignPacer) => {
				pacer.ledgerTimeoutMs = 50;
			});
			lift.push(slowSettles(1_000, Number.POSITIVE_INFINITY));
		}
		await a.pacer.wake(a.id);
		expect(
			dialled.map((call) => call.to),
			fault,
		).toEqual([e164(number)]);
		if (fault === "late") {
			// The report went through after the pacer stopped waiting; the pacer keeps it to send again.
			await new Promise((resolve) => setTimeout(resolve, 1_100));
			expect(await ledger.countsOf(e164(number), 0), fault).toEqual({ placed: 1, reserved: 0 });
			await runInDurableObject(a.pacer, (pacer: CampaignPacer) => {
				pacer.ledgerTimeoutMs = 5_000;
			});
		} else if (fault === "lose-answer") {
			expect(await ledger.countsOf(e164(number), 0), fault).toEqual({ placed: 1, reserved: 0 });
		} else {
			// Unconfirmed: the count stays a reservation, so B waits rather than dialling or being refused.
			expect(await ledger.countsOf(e164(number), 0), fault).toEqual({ placed: 0, reserved: 1 });
		}
		expect(await a.pacer.unsettled(), fault).toEqual({ placed: 1, released: 0 });
		const b = await campaignOf(account, [number], clock, dialled);
		await b.pacer.wake(b.id);
		expect(await b.pacer.view(b.id), fault).toMatchObject({
			contacts: { pending: fault === "throw" || fault === "evicted" ? 1 : 0 },
		});
		if (fault === "evicted") {
			// The pacer dies between the dial and its confirm: the next instance's alarm sends it from storage.
			await evictDurableObject(a.pacer);
			await a.inject();
		}
		for (const restore of lift) restore();
		clock.now += 2_000;
		await runDurableObjectAlarm(a.pacer);
		expect(await a.pacer.unsettled(), fault).toEqual({ placed: 0, released: 0 });
		// Stamped when the provider took the call (T0), not when the confirm finally arrived.
		expect(await ledger.countsOf(e164(number), T0 - 1), fault).toEqual({ placed: 1, reserved: 0 });
		expect(await ledger.countsOf(e164(number), T0), fault).toEqual({ placed: 0, reserved: 0 });
		clock.now += 61_000;
		await runDurableObjectAlarm(b.pacer);
		expect(await b.pacer.view(b.id), fault).toMatchObject({ contacts: { pending: 0, skipped: 1 } });
		expect(dialled, fault).toHaveLength(1);
	}

	it("a call whose dial got no answer (maybe placed) stays a reservation until its re-ask: taken, it is confirmed; refused for good, given back", async () => {
		for (const second of ["accepted", "permanent"] as const) {
			const account = await pbxAccount();
			await capAttempts(account, { count: 1, days: 1 });
			const clock = { now: T0 };
			await ledgerOn(account, clock);
			const number = second === "accepted" ? "0987013501" : "0987013502";
			let asks = 0;
			const a = await campaignPlacing(account, [number], clock, async (): Promise<DialResult> => {
				asks++;
				if (asks === 1) throw new TypeError("connection reset");
				return second === "accepted" ? { kind: "accepted" } : { kind: "permanent", reason: "HTTP 404" };
			});
			await a.pacer.wake(a.id);
			const ledger = contactLedgerOf(env, account.id);
			expect(await ledger.countsOf(e164(number), 0), second).toEqual({ placed: 0, reserved: 1 });
			clock.now += 2_000;
			await runDurableObjectAlarm(a.pacer);
			expect(asks, second).toBe(2);
			expect(await ledger.countsOf(e164(number), 0), second).toEqual(
				second === "accepted" ? { placed: 1, reserved: 0 } : { placed: 0, reserved: 0 },
			);
			expect(await a.pacer.unsettled(), second).toEqual({ placed: 0, released: 0 });
		}
	});

	for (const fault of ["throw", "lose-answer", "late", "evicted"] as const) {
		it(`a confirm that ${{ throw: "fails", "lose-answer": "goes through with its answer lost", late: "answers after the deadline", evicted: "fails, then the pacer is evicted" }[fault]} is sent again; the count is placed once, and another campaign is refused only then`, async () => {
			await confirmFails(fault);
		});
	}
});

describe("max_attempts_per_number under random load", () => {
	it("four campaigns on the same numbers, with retries, provider refusals, lost dial answers, a cancel and ledger faults: never over the cap in any 24 h, never refused under it, nothing lost", {
		timeout: 240_000,
	}, async () => {
		const seed = 20300305;
		const rand = random(seed);
		const account = await pbxAccount();
		const cap = { count: 3, days: 1 };
		await capAttempts(account, cap);
		const clock = { now: T0 };
		await ledgerOn(account, clock);
		const numbers = phones(30, 9_000);

		// The provider: dedupes by call id, refuses now and then, sometimes places a call and loses the answer.
		// The fourth campaign's route refuses most of its dials for now (a 503: never placed), and it is
		// cancelled mid-run: its cleared, never-placed dials must neither count nor hold numbers for good.
		const placedAt = new Map<string, { to: string; at: number }>();
		const faults = { refusals: 0, lostDialAnswers: 0, claimsFailed: 0, claimAnswersLost: 0, settlesFailed: 0, waits: 0 };
		const placeWith =
			(refusalRate: number) =>
			async (call: OutboundCall): Promise<DialResult> => {
				if (placedAt.has(call.callId)) return { kind: "accepted" };
				const roll = rand();
				if (roll < refusalRate) {
					faults.refusals++;
					return { kind: "transient", reason: "HTTP 503" };
				}
				placedAt.set(call.callId, { to: call.to, at: clock.now });
				if (roll < refusalRate + 0.04) {
					faults.lostDialAnswers++;
					throw new TypeError("connection reset");
				}
				return { kind: "accepted" };
			};
		const campaigns: { id: string; pacer: ReturnType<typeof pacerOf>; refusalRate: number }[] = [];
		for (let i = 0; i < 4; i++) {
			// Each campaign in its own order, a few calls a day: a number's attempts spread over days and campaigns.
			const created = await createCampaign(account, {
				contacts: numbers
					.map((number) => ({ number, order: rand() }))
					.sort((a, b) => a.order - b.order)
					.map((entry) => entry.number),
				max_concurrent_calls: 4,
				max_calls_per_day: 12,
				retry_failed: true,
				max_retry_attempts: 2,
				retry_delay_seconds: 3_600,
			});
			campaigns.push({ id: created.id, pacer: pacerOf(created.id), refusalRate: i === 3 ? 0.7 : 0.08 });
		}
		const cancelled = campaigns[3] as (typeof campaigns)[number];
		const cancelAt = 40 + Math.floor(rand() * 40);
		const inject = () =>
			Promise.all(
				campaigns.map((campaign) =>
					runInDurableObject(campaign.pacer, (pacer: CampaignPacer) => {
						pacer.clock = () => clock.now;
						pacer.random = rand;
						pacer.dialer = { place: placeWith(campaign.refusalRate) };
						pacer.ledgerTimeoutMs = 1_000;
					}),
				),
			);
		await inject();
		// What the ledger decided, on its clock, and the placed stamps the pacers confirmed: a refusal
		// for max_attempts must find `count` placed calls of the number in its window.
		const refusals: { phone: string; at: number }[] = [];
		const stamps = new Map<string, { phone: string; at: number }>();
		const ledgerPrototype = ContactLedger.prototype as unknown as {
			claim: (...args: Parameters<ContactLedger["claim"]>) => ReturnType<ContactLedger["claim"]>;
			settle: (...args: Parameters<ContactLedger["settle"]>) => ReturnType<ContactLedger["settle"]>;
		};
		const { claim, settle } = ledgerPrototype;
		ledgerPrototype.claim = function (this: ContactLedger, requests, claimCap) {
			const answers = claim.call(this, requests, claimCap);
			for (const answer of answers) {
				if (answer.verdict === "wait") faults.waits++;
				if (answer.verdict === "skip" && answer.reason === "max_attempts") {
					const phone = requests.find((request) => request.callId === answer.callId)?.phone ?? "";
					refusals.push({ phone, at: clock.now });
				}
			}
			return answers;
		};
		ledgerPrototype.settle = function (this: ContactLedger, placed, released) {
			for (const attempt of placed) stamps.set(attempt.callId, { phone: attempt.phone, at: attempt.at });
			return settle.call(this, placed, released);
		};
		restorers.push(() => {
			ledgerPrototype.claim = claim;
			ledgerPrototype.settle = settle;
		});
		// The ledger fails one claim in ten: before deciding, or after counting with its answer lost; and one report in ten.
		const claimFailed = failMethod(ContactLedger.prototype, "claim", { when: () => rand() < 0.05 });
		const claimLost = failMethod(ContactLedger.prototype, "claim", { when: () => rand() < 0.05, mode: "lose-answer" });
		const settleFailed = failMethod(ContactLedger.prototype, "settle", { when: () => rand() < 0.1 });

		const outcomes: CallOutcome[] = ["completed", "no_answer", "busy"];
		const finished = (status: string) => status === "completed" || status === "cancelled";
		const done = async () =>
			(await Promise.all(campaigns.map((campaign) => campaign.pacer.view(campaign.id)))).every((view) => finished(view.status));
		for (let step = 0; step < 5_000 && !(await done()); step++) {
			clock.now += Math.floor(rand() * 10 * 60_000) + 1_000;
			if (step === cancelAt) expect((await cancelled.pacer.cancel(cancelled.id)).status).toBe("cancelled");
			for (const campaign of campaigns) {
				for (const open of await campaign.pacer.openCalls()) {
					if (placedAt.has(open.id) && rand() < 0.5)
						await campaign.pacer.callEnded(campaign.id, open.id, outcomes[Math.floor(rand() * outcomes.length)] ?? "completed");
				}
			}
			// The pacers wake at once: their rounds reach the ledger together.
			await Promise.all(campaigns.map((campaign) => runDurableObjectAlarm(campaign.pacer)));
		}
		faults.claimsFailed = claimFailed.failed;
		faults.claimAnswersLost = claimLost.failed;
		faults.settlesFailed = settleFailed.failed;
		restoreFaults();
		// A report whose last try failed goes again with the pacer's next alarm.
		clock.now += 61_000;
		await Promise.all(campaigns.map((campaign) => runDurableObjectAlarm(campaign.pacer)));

		expect(await done()).toBe(true);
		// Per number, every span of 24 h holds at most 3 placed calls (the provider's own record).
		const byNumber = new Map<string, number[]>();
		for (const { to, at } of placedAt.values()) byNumber.set(to, [...(byNumber.get(to) ?? []), at]);
		for (const [to, times] of byNumber) {
			times.sort((a, b) => a - b);
			for (let i = cap.count; i < times.length; i++) {
				expect(
					(times[i] as number) - (times[i - cap.count] as number),
					`${to}: ${cap.count + 1} calls within 24 h`,
				).toBeGreaterThanOrEqual(24 * HOUR);
			}
		}
		// Every refusal found the number at its cap of placed calls (as confirmed): none while under it.
		for (const refusal of refusals) {
			const inWindow = [...stamps.values()].filter(
				(stamp) => stamp.phone === refusal.phone && stamp.at > refusal.at - 24 * HOUR && stamp.at <= refusal.at,
			);
			expect(inWindow.length, `${refusal.phone} refused at ${new Date(refusal.at).toISOString()}`).toBeGreaterThanOrEqual(
				cap.count,
			);
		}
		for (const [kind, count] of Object.entries(faults)) expect(count, kind).toBeGreaterThan(0);
		// Every contact of a completed campaign ended (done or skipped); each campaign's call log agrees with the provider.
		let skipped = 0;
		for (const campaign of campaigns) {
			const view = await campaign.pacer.view(campaign.id);
			if (campaign !== cancelled) expect(view.contacts.done + view.contacts.skipped).toBe(30);
			skipped += view.contacts.skipped;
			for (const call of await campaign.pacer.callLog()) expect(placedAt.has(call.id), call.id).toBe(true);
			expect(await campaign.pacer.unsettled(), "every confirm and give-back reached the ledger").toEqual({
				placed: 0,
				released: 0,
			});
		}
		expect((await cancelled.pacer.view(cancelled.id)).status).toBe("cancelled");
		expect(skipped).toBeGreaterThan(0);
		// Each number is wanted by four campaigns: the cap is used, not merely respected.
		expect([...byNumber.values()].every((times) => times.length >= cap.count)).toBe(true);
		expect(byNumber.size).toBe(30);
		const days = new Set([...placedAt.values()].map((placed) => new Date(placed.at).toISOString().slice(0, 10)));
		expect(days.size).toBeGreaterThan(3);
		console.log(JSON.stringify({ seed, placed: placedAt.size, skipped, refusals: refusals.length, days: days.size, faults }));
	});
});

describe("ledger faults", () => {
	it("a claim that fails dials nothing and loses no contact: the calls wait and go out once the ledger answers", async () => {
		const account = await pbxAccount();
		const contacts = phones(4, 4_000);
		await listNumbers(account, [contacts[0] as string]);
		const clock = { now: T0 };
		const dialled: OutboundCall[] = [];
		const campaign = await campaignOf(account, contacts, clock, dialled);
		const fault = failMethod(ContactLedger.prototype, "claim", { times: 3 });
		await campaign.pacer.wake(campaign.id);
		for (let i = 0; i < 2; i++) {
			clock.now += 5_000;
			await runDurableObjectAlarm(campaign.pacer);
		}
		expect(fault.failed).toBe(3);
		expect(dialled).toEqual([]);
		expect((await campaign.pacer.view(campaign.id)).contacts).toEqual({
			total: 4,
			pending: 4,
			in_flight: 0,
			done: 0,
			skipped: 0,
		});
		// Nothing was counted as an attempt: the contacts wait with their attempts unused.
		expect(await countRows("campaign_contacts", "campaign_id = ? AND attempts > 0", campaign.id)).toBe(0);

		clock.now += 10_000;
		await runDurableObjectAlarm(campaign.pacer);
		expect(dialled.map((call) => call.to).sort()).toEqual(contacts.slice(1).map(e164));
		expect((await campaign.pacer.view(campaign.id)).contacts).toMatchObject({ in_flight: 3, skipped: 1 });
	});

	it("an answer lost (then a restart), or one later than the deadline: nothing dialled then; asked again under the same call ids, each counted once", async () => {
		for (const fault of ["lose-answer", "late"] as const) {
			const account = await pbxAccount();
			await capAttempts(account, { count: 1, days: 1 });
			const clock = { now: T0 };
			await ledgerOn(account, clock);
			const numbers = phones(3, fault === "late" ? 5_100 : 5_000);
			const dialled: OutboundCall[] = [];
			const first = await campaignOf(account, numbers, clock, dialled);
			const deadline = (ms: number) =>
				runInDurableObject(first.pacer, (pacer: CampaignPacer) => {
					pacer.ledgerTimeoutMs = ms;
				});
			if (fault === "lose-answer") failMethod(ContactLedger.prototype, "claim", { times: 1, mode: "lose-answer" });
			else {
				// The claim counts at once and answers a second later, long after the pacer stopped waiting.
				await deadline(50);
				slowClaims(1_000, 1);
			}
			await first.pacer.wake(first.id);
			expect(dialled, fault).toEqual([]);
			if (fault === "late") await deadline(5_000);
			// The claim went through: the ledger counts the calls it cleared, though no dial went out.
			const ledger = contactLedgerOf(env, account.id);
			for (const number of numbers) expect(await ledger.attemptsOf(e164(number), 0), fault).toBe(1);

			// A second campaign meanwhile finds those attempts taken (reserved, not yet placed): it
			// dials nothing and refuses nothing; its contacts wait.
			const second = await campaignOf(account, numbers, clock, dialled);
			await second.pacer.wake(second.id);
			expect((await second.pacer.view(second.id)).contacts, fault).toMatchObject({ pending: 3, skipped: 0 });
			expect(dialled, fault).toEqual([]);

			// The first asks again under the same call ids (after a restart, in one case): dialled once each, counted once each.
			if (fault === "lose-answer") {
				await evictDurableObject(first.pacer);
				await first.inject();
			}
			clock.now += 2_000;
			await runDurableObjectAlarm(first.pacer);
			expect([...dialsPer(dialled).values()], fault).toEqual([1, 1, 1]);
			for (const number of numbers) expect(await ledger.attemptsOf(e164(number), 0), fault).toBe(1);
			const callIds = new Set(dialled.map((call) => call.callId));
			expect(await countRows("calls", "campaign_id = ?", first.id)).toBe(callIds.size);
			for (const number of numbers) expect(await ledger.countsOf(e164(number), 0), fault).toEqual({ placed: 1, reserved: 0 });
			// Placed now: the second campaign's contacts, asked again, are refused for good.
			clock.now += 61_000;
			await runDurableObjectAlarm(second.pacer);
			expect((await second.pacer.view(second.id)).contacts, fault).toMatchObject({ pending: 0, skipped: 3 });
			expect(dialled, fault).toHaveLength(3);
			restoreFaults();
			for (const restore of restorers.splice(0)) restore();
		}
	});

	it("a cancel after a claim whose answer was lost gives the count back; a late claim of that call is refused", async () => {
		const account = await pbxAccount();
		await capAttempts(account, { count: 1, days: 1 });
		const clock = { now: T0 };
		await ledgerOn(account, clock);
		const numbers = phones(2, 6_000);
		const dialled: OutboundCall[] = [];
		const campaign = await campaignOf(account, numbers, clock, dialled);
		failMethod(ContactLedger.prototype, "claim", { times: 1, mode: "lose-answer" });
		await campaign.pacer.wake(campaign.id);
		const ledger = contactLedgerOf(env, account.id);
		expect(await ledger.attemptsOf(e164(numbers[0] as string), 0)).toBe(1);
		const callIds = (
			await env.DB.prepare("SELECT id FROM calls WHERE campaign_id = ?").bind(campaign.id).all<{ id: string }>()
		).results.map((row) => row.id);

		const releases = failMethod(ContactLedger.prototype, "settle", { times: 1 });
		expect((await campaign.pacer.cancel(campaign.id)).status).toBe("cancelled");
		expect(releases.failed).toBe(1);
		expect(await ledger.attemptsOf(e164(numbers[0] as string), 0)).toBe(1);
		clock.now += 61_000;
		await runDurableObjectAlarm(campaign.pacer);
		for (const number of numbers) expect(await ledger.attemptsOf(e164(number), 0)).toBe(0);
		expect(dialled).toEqual([]);
		const late = await ledger.claim(
			callIds.map((callId, i) => ({ callId, phone: e164(numbers[i] as string), maybePlaced: false })),
			null,
		);
		expect(late.map((answer) => answer.verdict)).toEqual(["closed", "closed"]);

		// The numbers' attempts are free again for another campaign.
		const other = await campaignOf(account, numbers, clock, dialled);
		await other.pacer.wake(other.id);
		expect(dialled).toHaveLength(2);
	});

	it("a contact skipped for its unknown zone while its claimed call waits gives that count back (one skip path for every reason)", async () => {
		const account = await pbxAccount();
		const hours = { recipient_hours: { start: "08:00", end: "21:00" }, max_attempts_per_number: { count: 1, days: 1 } };
		const put = (policy: Record<string, unknown>) =>
			callJson("/api/account/contact-policy", { method: "PUT", token: account.token, body: policy });
		expect((await put({ ...hours, unknown_timezone: "campaign" })).status).toBe(200);
		const clock = { now: T0 };
		await ledgerOn(account, clock);
		const russianMobile = "+79161234567";
		const dialled: OutboundCall[] = [];
		const campaign = await campaignOf(account, [russianMobile], clock, dialled);
		// The claim counts the call and its answer is lost: the call waits to be asked again.
		failMethod(ContactLedger.prototype, "claim", { times: 1, mode: "lose-answer" });
		await campaign.pacer.wake(campaign.id);
		expect(dialled).toEqual([]);
		const ledger = contactLedgerOf(env, account.id);
		expect(await ledger.attemptsOf(russianMobile, 0)).toBe(1);

		// Unknown zones are skipped from now on: when its turn comes the contact ends skipped, its
		// waiting call is closed with the reason, and the ledger gets the count back.
		expect((await put({ ...hours, unknown_timezone: "skip" })).status).toBe(200);
		clock.now += 2_000;
		await runDurableObjectAlarm(campaign.pacer);
		expect(dialled).toEqual([]);
		expect(await campaign.pacer.view(campaign.id)).toMatchObject({ status: "completed", contacts: { skipped: 1 } });
		const { results } = await env.DB.prepare("SELECT status, failure_reason FROM calls WHERE campaign_id = ?")
			.bind(campaign.id)
			.all<{ status: string; failure_reason: string }>();
		expect(results).toEqual([{ status: "skipped", failure_reason: "unknown_timezone" }]);
		expect(await ledger.attemptsOf(russianMobile, 0)).toBe(0);
	});

	it("a cap PUT while a campaign runs applies from its next round (the pacer's copy of the policy), counting the attempts made before it", async () => {
		const account = await pbxAccount();
		const clock = { now: T0 };
		await ledgerOn(account, clock);
		const dialled: OutboundCall[] = [];
		const campaign = await campaignOf(account, ["0987007001"], clock, dialled, {
			retry_failed: true,
			max_retry_attempts: 3,
			retry_delay_seconds: 60,
		});
		await campaign.pacer.wake(campaign.id);
		await endOpenCalls(campaign, "no_answer");
		clock.now += 2 * 60_000;
		await runDurableObjectAlarm(campaign.pacer);
		// No cap yet: the retry went out.
		expect(dialled).toHaveLength(2);
		await endOpenCalls(campaign, "no_answer");
		// The PUT hands the policy to the running pacer before it answers: the third attempt (its
		// retries allow it) is the number's third in 24 h, over the new cap of two.
		await capAttempts(account, { count: 2, days: 1 });
		clock.now += 2 * 60_000;
		await runDurableObjectAlarm(campaign.pacer);
		expect(dialled).toHaveLength(2);
		const { results } = await env.DB.prepare("SELECT failure_reason FROM calls WHERE campaign_id = ? AND status = 'skipped'")
			.bind(campaign.id)
			.all<{ failure_reason: string }>();
		expect(results).toEqual([{ failure_reason: "max_attempts" }]);
		expect(await campaign.pacer.view(campaign.id)).toMatchObject({ status: "completed", contacts: { skipped: 1, done: 0 } });
	});

	it("claims and confirms are idempotent per call id, also when the same call is asked from two places at once", async () => {
		const account = await pbxAccount();
		const ledger = contactLedgerOf(env, account.id);
		const cap = { count: 1, days: 1 };
		const request = { callId: crypto.randomUUID(), phone: "+84987008001", maybePlaced: false };
		const answers = await Promise.all(Array.from({ length: 10 }, () => ledger.claim([request], cap)));
		expect(answers.flat().map((answer) => answer.verdict)).toEqual(Array(10).fill("dial"));
		expect(await ledger.countsOf(request.phone, 0)).toEqual({ placed: 0, reserved: 1 });
		// Another call for the number waits while the first is reserved, and is refused once it is placed.
		const other = { ...request, callId: crypto.randomUUID() };
		expect(await ledger.claim([other], cap)).toEqual([expect.objectContaining({ verdict: "wait" })]);
		await Promise.all(Array.from({ length: 3 }, () => ledger.settle([{ ...request, at: Date.now() }], [])));
		expect(await ledger.countsOf(request.phone, 0)).toEqual({ placed: 1, reserved: 0 });
		expect(await ledger.claim([other], cap)).toEqual([expect.objectContaining({ verdict: "skip", reason: "max_attempts" })]);
		// A placed count is never given back.
		await ledger.settle([], [request.callId]);
		expect(await ledger.countsOf(request.phone, 0)).toEqual({ placed: 1, reserved: 0 });
	});
});

/** The next `times` settles answer `ms` late (they run, then their answer waits); answers the undo. */
function slowSettles(ms: number, times: number): () => void {
	const prototype = ContactLedger.prototype as unknown as { settle: (...args: unknown[]) => unknown };
	const original = prototype.settle;
	let left = times;
	const slow = async function (this: unknown, ...args: unknown[]) {
		const answer = original.apply(this, args);
		if (left-- > 0) await new Promise((resolve) => setTimeout(resolve, ms));
		return answer;
	};
	prototype.settle = slow;
	const restore = () => {
		if (prototype.settle === slow) prototype.settle = original;
	};
	restorers.push(restore);
	return restore;
}

/** The next `times` claims answer `ms` late (they run, then their answer waits). */
function slowClaims(ms: number, times: number) {
	const prototype = ContactLedger.prototype as unknown as { claim: (...args: unknown[]) => unknown };
	const original = prototype.claim;
	let left = times;
	prototype.claim = async function (this: unknown, ...args: unknown[]) {
		const answer = original.apply(this, args);
		if (left-- > 0) await new Promise((resolve) => setTimeout(resolve, ms));
		return answer;
	};
	restorers.push(() => {
		prototype.claim = original;
	});
}
