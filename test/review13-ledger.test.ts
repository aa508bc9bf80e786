import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import { ContactLedger, contactLedgerOf } from "../durable-objects/contact-ledger";
import type { DialResult, OutboundCall } from "../workers/dialer/dialer";
import { createCampaign, pacerOf } from "./campaign-helpers";
import { callJson, pbxAccount } from "./helpers";
import { restoreFaults } from "./support/faults";

/**
 * Review of issue 13: max_attempts_per_number, counted by the contact ledger at claim time.
 * (1) a count taken for a dial that never reaches the provider makes other campaigns skip the
 * number for good; (2) the count is stamped when the ledger clears the call, which is before
 * the dial, so the rolling window ends early.
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

async function capAttempts(account: Account, cap: { count: number; days: number }) {
	const put = await callJson("/api/account/contact-policy", {
		method: "PUT",
		token: account.token,
		body: { max_attempts_per_number: cap },
	});
	expect(put.status).toBe(200);
}

const ledgerOn = (account: Account, clock: { now: number }) =>
	runInDurableObject(contactLedgerOf(env, account.id), (ledger: ContactLedger) => {
		ledger.clock = () => clock.now;
	});

/** A campaign on the test's clock with its own provider. */
async function campaignOf(
	account: Account,
	contacts: string[],
	clock: { now: number },
	place: (call: OutboundCall) => Promise<DialResult>,
) {
	const created = await createCampaign(account, { contacts, max_concurrent_calls: 10 });
	const pacer = pacerOf(created.id);
	await runInDurableObject(pacer, (object: CampaignPacer) => {
		object.clock = () => clock.now;
		object.random = () => 0.5;
		object.dialer = { place };
	});
	return { id: created.id, pacer };
}

describe("review13: max_attempts_per_number and dials that never happen", () => {
	it("a dial the provider refused (503, never placed) then cancelled leaves no contact of another campaign skipped for max_attempts", async () => {
		const account = await pbxAccount();
		await capAttempts(account, { count: 1, days: 1 });
		const clock = { now: T0 };
		await ledgerOn(account, clock);
		const number = "0987013101";
		const placed: string[] = [];

		// Campaign A: its provider refuses for now (a 503: the call was never placed, "not a call attempt").
		const a = await campaignOf(account, [number], clock, async () => ({ kind: "transient", reason: "HTTP 503" }));
		await a.pacer.wake(a.id);
		// Campaign B, same number, a working provider.
		const b = await campaignOf(account, [number], clock, async (call) => {
			placed.push(call.to);
			return { kind: "accepted" };
		});
		await b.pacer.wake(b.id);

		// A is cancelled before its provider recovers: its call is never placed, and its count goes back.
		expect((await a.pacer.cancel(a.id)).status).toBe("cancelled");
		clock.now += 2 * 60_000;
		await runDurableObjectAlarm(a.pacer);
		expect(await contactLedgerOf(env, account.id).attemptsOf("+84987013101", 0)).toBe(0);
		clock.now += 2 * 60_000;
		await runDurableObjectAlarm(b.pacer);

		// Nobody ever dialled the number, yet B's contact ended `skipped` (max_attempts), final.
		const view = await b.pacer.view(b.id);
		expect({ placed, skipped: view.contacts.skipped }).toEqual({ placed: ["+84987013101"], skipped: 0 });
	});
});

describe("review13: the rolling window starts at the claim, not at the dial", () => {
	it("cap 1 a day: no two dials of one number less than 24 h apart when the ledger's answer takes 2 s to come back", async () => {
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

		const a = await campaignOf(account, [number], clock, async () => {
			dials.push({ campaign: "a", at: clock.now });
			return { kind: "accepted" };
		});
		await a.pacer.wake(a.id);
		for (const open of await a.pacer.openCalls()) await a.pacer.callEnded(a.id, open.id, "completed");
		expect(dials).toEqual([{ campaign: "a", at: T0 + 2_000 }]);

		// 24 h after the ledger's stamp, 23:59:58 after A's dial: B asks for the same number.
		clock.now = T0 + 24 * HOUR;
		const b = await campaignOf(account, [number], clock, async () => {
			dials.push({ campaign: "b", at: clock.now });
			return { kind: "accepted" };
		});
		await b.pacer.wake(b.id);
		const [first, second] = dials;
		if (first && second) expect(second.at - first.at, "two dials of one number within 24 h").toBeGreaterThanOrEqual(24 * HOUR);
	});
});
