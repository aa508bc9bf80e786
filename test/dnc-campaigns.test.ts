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

		// Every pacer clears its round with the one ledger at the same moment.
		await Promise.all(campaigns.map((campaign) => campaign.pacer.wake(campaign.id)));
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

describe("max_attempts_per_number under random load", () => {
	it("three campaigns on the same numbers, with retries, provider refusals, lost dial answers and ledger faults: never over the cap in any 24 h, nothing lost", {
		timeout: 180_000,
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
		const placedAt = new Map<string, { to: string; at: number }>();
		const faults = { refusals: 0, lostDialAnswers: 0, claimsFailed: 0, claimAnswersLost: 0 };
		const place = async (call: OutboundCall): Promise<DialResult> => {
			if (placedAt.has(call.callId)) return { kind: "accepted" };
			const roll = rand();
			if (roll < 0.08) {
				faults.refusals++;
				return { kind: "transient", reason: "HTTP 503" };
			}
			placedAt.set(call.callId, { to: call.to, at: clock.now });
			if (roll < 0.12) {
				faults.lostDialAnswers++;
				throw new TypeError("connection reset");
			}
			return { kind: "accepted" };
		};
		const campaigns: { id: string; pacer: ReturnType<typeof pacerOf> }[] = [];
		for (let i = 0; i < 3; i++) {
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
			campaigns.push({ id: created.id, pacer: pacerOf(created.id) });
		}
		const inject = () =>
			Promise.all(
				campaigns.map((campaign) =>
					runInDurableObject(campaign.pacer, (pacer: CampaignPacer) => {
						pacer.clock = () => clock.now;
						pacer.random = rand;
						pacer.dialer = { place };
						pacer.ledgerTimeoutMs = 1_000;
					}),
				),
			);
		await inject();
		// The ledger fails one claim in ten: before deciding, or after counting with its answer lost.
		const claimFailed = failMethod(ContactLedger.prototype, "claim", { when: () => rand() < 0.05 });
		const claimLost = failMethod(ContactLedger.prototype, "claim", { when: () => rand() < 0.05, mode: "lose-answer" });

		const outcomes: CallOutcome[] = ["completed", "no_answer", "busy"];
		const done = async () =>
			(await Promise.all(campaigns.map((campaign) => campaign.pacer.view(campaign.id)))).every(
				(view) => view.status === "completed",
			);
		for (let step = 0; step < 5_000 && !(await done()); step++) {
			clock.now += Math.floor(rand() * 10 * 60_000) + 1_000;
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
		restoreFaults();

		expect(await done()).toBe(true);
		for (const [kind, count] of Object.entries(faults)) expect(count, kind).toBeGreaterThan(0);
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
		// Every contact ended (done or skipped); each campaign's call log agrees with the provider.
		let skipped = 0;
		for (const campaign of campaigns) {
			const view = await campaign.pacer.view(campaign.id);
			expect(view.contacts.done + view.contacts.skipped).toBe(30);
			skipped += view.contacts.skipped;
			for (const call of await campaign.pacer.callLog()) expect(placedAt.has(call.id), call.id).toBe(true);
		}
		expect(skipped).toBeGreaterThan(0);
		// Each number is wanted by three campaigns: the cap is used, not merely respected.
		expect([...byNumber.values()].every((times) => times.length >= cap.count)).toBe(true);
		expect(byNumber.size).toBe(30);
		const days = new Set([...placedAt.values()].map((placed) => new Date(placed.at).toISOString().slice(0, 10)));
		expect(days.size).toBeGreaterThan(3);
		console.log(JSON.stringify({ seed, placed: placedAt.size, skipped, days: days.size, faults }));
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

			// A second campaign meanwhile finds those attempts taken: the cap holds.
			const second = await campaignOf(account, numbers, clock, dialled);
			await second.pacer.wake(second.id);
			expect((await second.pacer.view(second.id)).contacts, fault).toMatchObject({ skipped: 3 });

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

		const releases = failMethod(ContactLedger.prototype, "release", { times: 1 });
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

	it("claims are idempotent per call id, also when the same call is asked from two places at once", async () => {
		const account = await pbxAccount();
		const ledger = contactLedgerOf(env, account.id);
		const cap = { count: 1, days: 1 };
		const request = { callId: crypto.randomUUID(), phone: "+84987008001", maybePlaced: false };
		const answers = await Promise.all(Array.from({ length: 10 }, () => ledger.claim([request], cap)));
		expect(answers.flat().map((answer) => answer.verdict)).toEqual(Array(10).fill("dial"));
		expect(await ledger.attemptsOf(request.phone, 0)).toBe(1);
		// Another call for the number is over the cap.
		const other = await ledger.claim([{ ...request, callId: crypto.randomUUID() }], cap);
		expect(other).toEqual([expect.objectContaining({ verdict: "skip", reason: "max_attempts" })]);
	});
});

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
