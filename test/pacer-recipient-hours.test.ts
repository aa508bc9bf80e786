import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { CampaignPacer } from "../durable-objects/campaign-pacer";
import type { DialResult, OutboundCall } from "../workers/dialer/dialer";
import { checkInvariants, createCampaign, pacerOf, runCron, windowOf } from "./campaign-helpers";
import { callJson, pbxAccount } from "./helpers";
import { failD1, failMethod, restoreFaults } from "./support/faults";

/**
 * Recipient hours in the pacer: a call starts only while the campaign's window is open in the
 * campaign's zone and the account's recipient hours are open in the recipient's zone(s).
 */

afterEach(() => restoreFaults());

const HONOLULU = (i: number) => `+1808555${String(100 + i).padStart(4, "0")}`;
const NEW_YORK = (i: number) => `+1212555${String(100 + i).padStart(4, "0")}`;
const TCPA = { recipient_hours: { start: "08:00", end: "21:00" } };

type Account = Awaited<ReturnType<typeof pbxAccount>>;

async function putPolicy(account: Account, body: Record<string, unknown>) {
	const put = await callJson(`/api/account/contact-policy`, { method: "PUT", token: account.token, body });
	expect(put.status).toBe(200);
	return put;
}

/** A New York campaign, 09:00–17:00 Monday to Friday, from Monday 2030-03-04; its clock and dialer taken over. */
async function campaignOf(account: Account, contacts: unknown[], overrides: Record<string, unknown> = {}) {
	const campaign = await createCampaign(account, {
		contacts,
		scheduled_at: "2030-03-04T14:00:00Z",
		start_time: "09:00",
		end_time: "17:00",
		max_concurrent_calls: 2,
		max_calls_per_day: null,
		...overrides,
	});
	const pacer = pacerOf(campaign.id);
	const clock = { now: Date.parse("2030-03-04T15:00:00Z") }; // 10:00 in New York, 05:00 in Honolulu
	const dialled: OutboundCall[] = [];
	const inject = () =>
		runInDurableObject(pacer, (object: CampaignPacer) => {
			object.clock = () => clock.now;
			object.random = () => 0.5;
			object.dialer = {
				place: async (call) => {
					dialled.push(call);
					return { kind: "accepted" };
				},
			};
		});
	await inject();
	return { campaign, pacer, clock, dialled, inject };
}

async function endOpenCalls(pacer: ReturnType<typeof pacerOf>, campaignId: string) {
	for (const open of await pacer.openCalls()) await pacer.callEnded(campaignId, open.id, "completed");
}

const alarmOf = (pacer: ReturnType<typeof pacerOf>) =>
	runInDurableObject(pacer, (_object: CampaignPacer, state) => state.storage.getAlarm());

/** The contact ended skipped, never dialled, and its `contact.skipped` event says why. */
async function expectSkipped(accountId: string, campaignId: string, phone: string, reason: string) {
	const skipped = await env.DB.prepare(
		"SELECT id, status, skip_reason, attempts FROM campaign_contacts WHERE campaign_id = ? AND phone = ?",
	)
		.bind(campaignId, phone)
		.first<{ id: string; status: string; skip_reason: string; attempts: number }>();
	expect(skipped).toMatchObject({ status: "skipped", skip_reason: reason, attempts: 0 });
	const event = await env.DB.prepare("SELECT payload FROM events WHERE account_id = ? AND type = 'contact.skipped'")
		.bind(accountId)
		.first<{ payload: string }>();
	expect(JSON.parse(event?.payload ?? "{}").data).toMatchObject({
		campaign_id: campaignId,
		contact_id: skipped?.id,
		phone,
		reason,
	});
}

describe("contacts whose recipient hours are closed wait without holding back the others", () => {
	it("Honolulu first in the list, New York after: New York is dialled at 10:00; Honolulu at its 08:00, which is the next opening and the alarm", async () => {
		const account = await pbxAccount();
		await putPolicy(account, TCPA);
		const contacts = [HONOLULU(1), HONOLULU(2), HONOLULU(3), NEW_YORK(1), NEW_YORK(2), NEW_YORK(3)];
		const { campaign, pacer, clock, dialled } = await campaignOf(account, contacts);
		await pacer.wake(campaign.id);
		// The two slots go to New York (dialled in parallel, in either order).
		expect(dialled.map((call) => call.to).sort()).toEqual([NEW_YORK(1), NEW_YORK(2)]);
		expect((await pacer.view(campaign.id)).window_open).toBe(true);
		await endOpenCalls(pacer, campaign.id);
		expect(dialled.map((call) => call.to).sort()).toEqual([NEW_YORK(1), NEW_YORK(2), NEW_YORK(3)]);
		await endOpenCalls(pacer, campaign.id);
		expect(dialled).toHaveLength(3);

		// Only Honolulu is left: it is 05:00 there. Its 08:00 (HST, UTC−10) is 18:00Z, 13:00 in New York.
		const live = await callJson<{
			live: { window_open: boolean; next_opening_at: string | null; contacts: { pending: number } };
		}>(`/api/autocall/campaigns/${campaign.id}`, { token: account.token });
		expect(live.body.live).toMatchObject({
			window_open: false,
			next_opening_at: "2030-03-04T18:00:00.000Z",
			contacts: { pending: 3 },
		});
		expect(await alarmOf(pacer)).toBe(Date.parse("2030-03-04T18:00:00Z"));
		// The record batch that wrote the last call's end still had that write pending when it took
		// the wake time (a second ahead); the next round, here a sweep's wake, writes the opening.
		clock.now += 1000;
		await pacer.wake(campaign.id);
		const row = await env.DB.prepare("SELECT next_wake_at FROM autocall_campaigns WHERE id = ?").bind(campaign.id).first();
		expect(row?.next_wake_at).toBe("2030-03-04T18:00:00.000Z");

		clock.now = Date.parse("2030-03-04T17:59:59Z");
		await pacer.wake(campaign.id);
		expect(dialled).toHaveLength(3);
		clock.now = Date.parse("2030-03-04T18:00:00Z");
		await runDurableObjectAlarm(pacer);
		expect(
			dialled
				.slice(3)
				.map((call) => call.to)
				.sort(),
		).toEqual([HONOLULU(1), HONOLULU(2)]);
	});

	it("a contact's own timezone wins over its number's", async () => {
		const account = await pbxAccount();
		await putPolicy(account, TCPA);
		// A New York number whose owner lives in Honolulu, and a Honolulu number in New York.
		const contacts = [
			{ phone: NEW_YORK(1), timezone: "Pacific/Honolulu" },
			{ phone: HONOLULU(1), timezone: "America/New_York" },
		];
		const { campaign, pacer, dialled } = await campaignOf(account, contacts);
		await pacer.wake(campaign.id);
		expect(dialled.map((call) => call.to)).toEqual([HONOLULU(1)]);
	});

	it("an area code spanning zones waits for the later one: 907 is called at 08:00 in Adak, not Anchorage", async () => {
		const account = await pbxAccount();
		await putPolicy(account, TCPA);
		const { campaign, pacer, clock, dialled } = await campaignOf(account, ["+19075550100"], {
			start_time: "06:00",
			end_time: "23:00",
		});
		// 17:30Z in March: 08:30 in Anchorage (AKST, UTC−9), 07:30 in Adak (HST, UTC−10).
		clock.now = Date.parse("2030-03-04T17:30:00Z");
		await pacer.wake(campaign.id);
		expect(dialled).toHaveLength(0);
		expect((await pacer.view(campaign.id)).next_opening_at).toBe("2030-03-04T18:00:00.000Z");
		clock.now = Date.parse("2030-03-04T18:00:00Z");
		await runDurableObjectAlarm(pacer);
		expect(dialled).toHaveLength(1);
	});
});

describe("recipients of unknown zone", () => {
	it("skip: not called, `skipped` in the live counters, in D1 with its reason, and contact.skipped; the campaign completes", async () => {
		const account = await pbxAccount();
		await putPolicy(account, { ...TCPA, unknown_timezone: "skip" });
		const russianMobile = "+79161234567";
		const { campaign, pacer, dialled } = await campaignOf(account, [russianMobile, NEW_YORK(1)]);
		await pacer.wake(campaign.id);
		expect(dialled.map((call) => call.to)).toEqual([NEW_YORK(1)]);
		const view = await pacer.view(campaign.id);
		expect(view.contacts).toEqual({ total: 2, pending: 0, in_flight: 1, done: 0, skipped: 1 });
		await expectSkipped(account.id, campaign.id, russianMobile, "unknown_timezone");
		await endOpenCalls(pacer, campaign.id);
		expect((await pacer.view(campaign.id)).status).toBe("completed");
	});

	it("campaign: held to the recipient hours in the campaign's zone", async () => {
		const account = await pbxAccount();
		await putPolicy(account, TCPA);
		const { campaign, pacer, clock, dialled } = await campaignOf(account, ["+79161234567"], {
			scheduled_at: "2030-03-04T11:00:00Z",
			start_time: "06:00",
		});
		clock.now = Date.parse("2030-03-04T12:59:00Z"); // 07:59 in New York
		await pacer.wake(campaign.id);
		expect(dialled).toHaveLength(0);
		clock.now = Date.parse("2030-03-04T13:00:00Z");
		await runDurableObjectAlarm(pacer);
		expect(dialled).toHaveLength(1);
	});

	it("without recipient hours the zone does not matter, even under skip (the campaign's window alone decides)", async () => {
		const account = await pbxAccount();
		await putPolicy(account, { unknown_timezone: "skip" });
		const { campaign, pacer, dialled } = await campaignOf(account, ["+79161234567", HONOLULU(1)]);
		await pacer.wake(campaign.id);
		expect(dialled).toHaveLength(2);
		expect((await pacer.view(campaign.id)).contacts.skipped).toBe(0);
	});
});

describe("a PUT of the policy reaches running campaigns", () => {
	it("at once through the hand-over, and through the cron sweep where the hand-over failed (within a minute)", async () => {
		const account = await pbxAccount();
		const { campaign, pacer, clock, dialled } = await campaignOf(account, [1, 2, 3, 4, 5].map(HONOLULU), {
			max_concurrent_calls: 1,
		});
		// No recipient hours: 05:00 in Honolulu is dialled.
		await pacer.wake(campaign.id);
		expect(dialled).toHaveLength(1);
		await putPolicy(account, TCPA);
		const version = () =>
			env.DB.prepare("SELECT pacer_policy_version AS v FROM autocall_campaigns WHERE id = ?")
				.bind(campaign.id)
				.first<{ v: number }>();
		expect((await version())?.v).toBe(1);
		// The call in flight finishes; no new one starts before Honolulu's 08:00.
		await endOpenCalls(pacer, campaign.id);
		expect(dialled).toHaveLength(1);
		expect((await pacer.view(campaign.id)).next_opening_at).toBe("2030-03-04T18:00:00.000Z");

		// The next PUT lifts the hours, but its hand-over does not reach the pacer.
		const handOver = failMethod(CampaignPacer.prototype, "applyPolicy", { times: 1 });
		await putPolicy(account, { recipient_hours: null });
		expect(handOver.failed).toBe(1);
		expect((await version())?.v).toBe(1);
		clock.now += 60_000;
		await pacer.wake(campaign.id);
		expect(dialled).toHaveLength(1);
		// A cron whose read of the policies fails leaves them to the next one (and still runs).
		const read = failD1("FROM contact_policies WHERE account_id IN", { times: 1 });
		await runCron(clock.now);
		expect(read.failed).toBe(1);
		expect((await version())?.v).toBe(1);
		expect(dialled).toHaveLength(1);
		// The next minute's cron finds the pacer on version 1 of 2 and hands it the policy.
		clock.now += 60_000;
		await runCron(clock.now);
		expect((await version())?.v).toBe(2);
		expect(dialled).toHaveLength(2);
	});

	it("a campaign created after the PUT takes the policy from its create (read in the create's batch)", async () => {
		const account = await pbxAccount();
		await putPolicy(account, TCPA);
		const { campaign, pacer, dialled } = await campaignOf(account, [HONOLULU(1)]);
		await pacer.wake(campaign.id);
		expect(dialled).toHaveLength(0);
		const row = await env.DB.prepare("SELECT pacer_policy_version AS v FROM autocall_campaigns WHERE id = ?")
			.bind(campaign.id)
			.first();
		expect(row?.v).toBe(1);
	});
});

describe("the check at dial time", () => {
	it("reserved at 20:59 in the recipient's zone, recorded after 21:00: not dialled, back in the queue with its attempt unused", async () => {
		const account = await pbxAccount();
		await putPolicy(account, TCPA);
		// A window open all day in UTC; the recipient is in New York (EST): 20:59 there is 01:59Z.
		const { campaign, pacer, clock, dialled } = await campaignOf(account, [NEW_YORK(1)], {
			timezone: "UTC",
			start_time: "00:00",
			end_time: "23:59",
			working_days: [1, 2, 3, 4, 5, 6, 7],
		});
		clock.now = Date.parse("2030-03-05T01:59:00Z");
		const fault = failD1("INSERT INTO calls");
		await pacer.wake(campaign.id);
		expect(dialled).toHaveLength(0);
		expect((await pacer.view(campaign.id)).in_flight).toBe(1);
		fault.restore();
		clock.now = Date.parse("2030-03-05T02:00:30Z");
		await runDurableObjectAlarm(pacer);
		await pacer.wake(campaign.id);
		expect(dialled).toHaveLength(0);
		const view = await pacer.view(campaign.id);
		expect(view.contacts).toMatchObject({ pending: 1, in_flight: 0 });
		expect(view.in_flight).toBe(0);
		// Called at 08:00 the next morning in New York, as attempt 1.
		expect(view.next_opening_at).toBe("2030-03-05T13:00:00.000Z");
		clock.now = Date.parse("2030-03-05T13:00:00Z");
		await runDurableObjectAlarm(pacer);
		expect(dialled).toHaveLength(1);
		expect((await pacer.callLog()).map((call) => call.attempt)).toEqual([1]);
	});
});

describe("pacers created before contacts had zones", () => {
	it("add the column and derive each contact's zone from its number when they next start", async () => {
		const account = await pbxAccount();
		const { campaign, pacer } = await campaignOf(account, [NEW_YORK(1), HONOLULU(1), "+79161234567"]);
		await pacer.view(campaign.id);
		await runInDurableObject(pacer, (_object: CampaignPacer, state) => {
			state.storage.sql.exec("DROP INDEX contacts_zone_due");
			state.storage.sql.exec("ALTER TABLE contacts DROP COLUMN zone");
		});
		await evictDurableObject(pacer);
		const zones = await runInDurableObject(pacer, (_object: CampaignPacer, state) =>
			state.storage.sql
				.exec<{ phone: string; zone: string | null }>("SELECT phone, zone FROM contacts ORDER BY position")
				.toArray(),
		);
		expect(zones).toEqual([
			{ phone: NEW_YORK(1), zone: "America/New_York" },
			{ phone: HONOLULU(1), zone: "Pacific/Honolulu" },
			{ phone: "+79161234567", zone: null },
		]);
	});
});

/** A campaign whose dials go to `place`, on the test's clock. */
async function campaignWith(
	account: Account,
	contacts: string[],
	clock: { now: number },
	place: (call: OutboundCall) => Promise<DialResult>,
	overrides: Record<string, unknown>,
) {
	const created = await createCampaign(account, { contacts, max_calls_per_day: null, ...overrides });
	const pacer = pacerOf(created.id);
	await runInDurableObject(pacer, (object: CampaignPacer) => {
		object.clock = () => clock.now;
		object.random = () => 0.5;
		object.dialer = { place };
	});
	return { id: created.id, pacer };
}

/** A UTC campaign open every minute of every day, one slot. */
const ALWAYS_OPEN = {
	scheduled_at: "2030-03-04T00:00:00Z",
	timezone: "UTC",
	start_time: "00:00",
	end_time: "23:59",
	working_days: [1, 2, 3, 4, 5, 6, 7],
	max_concurrent_calls: 1,
};

describe("a held call (the provider may have it) outside its recipient's hours", () => {
	/** Honolulu's first dial gets no answer a second before 21:00 there (06:59:59Z): the call is held; Vietnam (13:59) is open. */
	async function heldInHonolulu(overrides: Record<string, unknown> = {}) {
		const account = await pbxAccount();
		await putPolicy(account, TCPA);
		const honolulu = HONOLULU(50);
		const vietnam = ["0987013301", "0987013302"];
		const dialled: OutboundCall[] = [];
		let first = true;
		const place = async (call: OutboundCall): Promise<DialResult> => {
			if (call.to === honolulu && first) {
				first = false;
				throw new TypeError("connection reset");
			}
			dialled.push(call);
			return { kind: "accepted" };
		};
		const clock = { now: Date.parse("2030-03-05T06:59:59Z") };
		const campaign = await campaignWith(account, [honolulu, ...vietnam], clock, place, { ...ALWAYS_OPEN, ...overrides });
		await campaign.pacer.wake(campaign.id);
		expect(dialled).toEqual([]);
		return { ...campaign, clock, dialled, honolulu };
	}

	it("keeps its slot while it may still be live, then not: open zones are dialled; it is asked again (same id, with a slot) when its hours reopen", async () => {
		const { id, pacer, clock, dialled, honolulu } = await heldInHonolulu();
		const live = await pacer.view(id);
		expect({ in_flight: live.in_flight, calls_today: live.calls_today }).toEqual({ in_flight: 1, calls_today: 1 });
		// Its re-ask is due a second later, at 21:00 in Honolulu: closed until 08:00 there (18:00Z).
		clock.now = Date.parse("2030-03-05T07:00:01Z");
		await runDurableObjectAlarm(pacer);
		expect(dialled).toEqual([]);
		// Nothing ends the held call: the alarm is set for when it can no longer be live (MAX_CALL_SECONDS after its ask).
		expect(await alarmOf(pacer)).toBe(Date.parse("2030-03-05T07:14:59Z"));
		clock.now = Date.parse("2030-03-05T07:14:58Z");
		await runDurableObjectAlarm(pacer);
		expect(dialled).toEqual([]);

		// Had the provider placed it, it is over: the slot is free for the open zones.
		clock.now = Date.parse("2030-03-05T07:14:59Z");
		await runDurableObjectAlarm(pacer);
		expect(dialled.map((call) => call.to)).toEqual(["+84987013301"]);
		// The held call still counts against the day it started on (it may have been placed), not against the slots.
		expect(await pacer.view(id)).toMatchObject({ in_flight: 1, calls_today: 2 });
		await endOpenCalls(pacer, id);
		expect(dialled.map((call) => call.to)).toEqual(["+84987013301", "+84987013302"]);
		await endOpenCalls(pacer, id);

		// 18:00Z, 08:00 in Honolulu: asked again under its first call id, in the one slot.
		clock.now = Date.parse("2030-03-05T18:00:00Z");
		await runDurableObjectAlarm(pacer);
		expect(dialled.map((call) => call.to)).toEqual(["+84987013301", "+84987013302", honolulu]);
		expect(dialled[2]?.firstAskedAt).toBe(Date.parse("2030-03-05T06:59:59Z"));
		expect((await pacer.view(id)).in_flight).toBe(1);
	});

	it("holds its slot for MAX_CALL_SECONDS after its last ask, not its first (a re-ask may have placed it); a late callback of it is recorded as ended when its slot went", async () => {
		const account = await pbxAccount();
		await putPolicy(account, TCPA);
		const honolulu = HONOLULU(51);
		const asked: { to: string; callId: string; at: number }[] = [];
		const clock = { now: Date.parse("2030-03-05T06:40:00Z") }; // 20:40 in Honolulu
		const campaign = await campaignWith(
			account,
			[honolulu, "0987013311"],
			clock,
			async (call) => {
				asked.push({ to: call.to, callId: call.callId, at: clock.now });
				if (call.to === honolulu) throw new TypeError("connection reset");
				return { kind: "accepted" };
			},
			ALWAYS_OPEN,
		);
		await campaign.pacer.wake(campaign.id);
		// Asked again while Honolulu's hours are open, each time without an answer: the last ask is 06:50.
		clock.now = Date.parse("2030-03-05T06:50:00Z");
		await runDurableObjectAlarm(campaign.pacer);
		const honoluluAsks = () => asked.filter((ask) => ask.to === honolulu);
		expect(honoluluAsks().at(-1)?.at).toBe(clock.now);
		// 06:56: more than MAX_CALL_SECONDS after the first ask, not after the last: the slot is still held.
		clock.now = Date.parse("2030-03-05T06:56:00Z");
		await runDurableObjectAlarm(campaign.pacer);
		expect(asked.filter((ask) => ask.to !== honolulu)).toEqual([]);
		const lastAsk = honoluluAsks().at(-1)?.at ?? 0;
		// Honolulu closes at 07:00Z; its slot is free MAX_CALL_SECONDS after its last ask.
		clock.now = lastAsk + 900_000;
		await runDurableObjectAlarm(campaign.pacer);
		expect(asked.filter((ask) => ask.to !== honolulu).map((ask) => ask.at)).toEqual([lastAsk + 900_000]);

		// The provider had placed it after all: its callback comes late. It ended, at the latest, when its slot went.
		clock.now += 30 * 60_000;
		const held = honoluluAsks()[0]?.callId ?? "";
		expect(await campaign.pacer.callEnded(campaign.id, held, "completed")).toBe(true);
		const log = await campaign.pacer.callLog();
		expect(log.find((call) => call.id === held)?.ended_at).toBe(lastAsk + 900_000);
		checkInvariants(log, windowOf(ALWAYS_OPEN), 1, 100, 1);
	});

	it("a new call never joins a held one still in its slot (max_concurrent_calls holds), and the daily cap still counts it", async () => {
		const { id, pacer, clock, dialled } = await heldInHonolulu({ max_calls_per_day: 1 });
		clock.now = Date.parse("2030-03-05T07:30:00Z");
		await pacer.wake(id);
		// The slot is free, but the day's one call is the held one: nothing more today.
		expect(dialled).toEqual([]);
		expect(await pacer.view(id)).toMatchObject({ in_flight: 0, calls_today: 1 });
	});
});

describe("a held call whose recipient's hours no longer meet the window", () => {
	it("is closed as timeout once it cannot be live (it can never be asked again inside the hours), and the campaign completes", async () => {
		const account = await pbxAccount();
		await putPolicy(account, TCPA);
		const honolulu = HONOLULU(80);
		let asks = 0;
		const clock = { now: Date.parse("2030-03-05T06:59:59Z") };
		const campaign = await campaignWith(
			account,
			[honolulu],
			clock,
			async () => {
				asks++;
				throw new TypeError("connection reset");
			},
			ALWAYS_OPEN,
		);
		await campaign.pacer.wake(campaign.id);
		expect(asks).toBe(1);
		// 08:00–17:00 UTC is 22:00–07:00 in Honolulu: never inside its 08:00–21:00.
		const patched = await callJson(`/api/autocall/campaigns/${campaign.id}`, {
			method: "PATCH",
			token: account.token,
			body: { start_time: "08:00", end_time: "17:00" },
		});
		expect(patched.status).toBe(200);
		// Still possibly live: neither asked again nor skipped.
		clock.now = Date.parse("2030-03-05T07:10:00Z");
		await runDurableObjectAlarm(campaign.pacer);
		expect(await campaign.pacer.view(campaign.id)).toMatchObject({ status: "active", contacts: { pending: 1 } });
		clock.now = Date.parse("2030-03-05T07:14:59Z");
		await runDurableObjectAlarm(campaign.pacer);
		expect(asks).toBe(1);
		expect(await campaign.pacer.view(campaign.id)).toMatchObject({ status: "completed", contacts: { done: 1, skipped: 0 } });
		const call = await env.DB.prepare("SELECT status FROM calls WHERE campaign_id = ?")
			.bind(campaign.id)
			.first<{ status: string }>();
		expect(call?.status).toBe("timeout");
	});
});

describe("recipient hours that meet the campaign's window only far ahead, or never", () => {
	it("first meet after a DST change five weeks ahead: next_opening_at is that instant, the alarm too, and the contact is called then", async () => {
		const account = await pbxAccount();
		await putPolicy(account, TCPA);
		// 12:00–13:00 UTC is 07:00–08:00 in New York in winter (closed) and 08:00–09:00 once DST starts on 2030-03-10.
		const clock = { now: Date.parse("2030-02-01T12:30:00Z") };
		const dialled: OutboundCall[] = [];
		const campaign = await campaignWith(
			account,
			[NEW_YORK(60)],
			clock,
			async (call) => {
				dialled.push(call);
				return { kind: "accepted" };
			},
			{ ...ALWAYS_OPEN, scheduled_at: "2030-02-01T00:00:00Z", start_time: "12:00", end_time: "13:00" },
		);
		await campaign.pacer.wake(campaign.id);
		const live = await callJson<{ status: string; live: { window_open: boolean; next_opening_at: string | null } }>(
			`/api/autocall/campaigns/${campaign.id}`,
			{ token: account.token },
		);
		expect(live.body).toMatchObject({
			status: "active",
			live: { window_open: false, next_opening_at: "2030-03-10T12:00:00.000Z" },
		});
		expect(await alarmOf(campaign.pacer)).toBe(Date.parse("2030-03-10T12:00:00Z"));
		clock.now = Date.parse("2030-03-10T12:00:00Z");
		await runDurableObjectAlarm(campaign.pacer);
		expect(dialled.map((call) => call.to)).toEqual([NEW_YORK(60)]);
	});

	it("never within a year (Tokyo's 08:00–21:00 against New York's 09:00–17:00): the contact ends skipped, no_calling_hours, and the campaign completes", async () => {
		const account = await pbxAccount();
		await putPolicy(account, TCPA);
		const tokyo = "+81312345678";
		const { campaign, pacer, dialled } = await campaignOf(account, [tokyo, NEW_YORK(70)]);
		await pacer.wake(campaign.id);
		expect(dialled.map((call) => call.to)).toEqual([NEW_YORK(70)]);
		expect((await pacer.view(campaign.id)).contacts).toEqual({ total: 2, pending: 0, in_flight: 1, done: 0, skipped: 1 });
		await expectSkipped(account.id, campaign.id, tokyo, "no_calling_hours");
		await endOpenCalls(pacer, campaign.id);
		const view = await callJson<{ status: string; live: { next_opening_at: string | null } }>(
			`/api/autocall/campaigns/${campaign.id}`,
			{ token: account.token },
		);
		expect(view.body).toMatchObject({ status: "completed", live: { next_opening_at: null } });
	});

	it("decided while the campaign's own window is closed too, and a PATCH of the window later leaves a skipped contact skipped", async () => {
		const account = await pbxAccount();
		await putPolicy(account, TCPA);
		const tokyo = "+81312345679";
		const { campaign, pacer, clock, dialled } = await campaignOf(account, [tokyo, HONOLULU(70)], {
			scheduled_at: "2030-03-04T11:00:00Z",
		});
		// 07:00 in New York, before the window: Tokyo can never be called under it, Honolulu can (13:00 New York).
		clock.now = Date.parse("2030-03-04T12:00:00Z");
		await pacer.wake(campaign.id);
		expect(dialled).toEqual([]);
		expect((await pacer.view(campaign.id)).contacts).toMatchObject({ pending: 1, skipped: 1 });
		// A window Tokyo's hours would meet (New York 19:00–23:00 is 08:00–12:00 in Tokyo): skipped is final.
		const patched = await callJson(`/api/autocall/campaigns/${campaign.id}`, {
			method: "PATCH",
			token: account.token,
			body: { start_time: "19:00", end_time: "23:00" },
		});
		expect(patched.status).toBe(200);
		clock.now = Date.parse("2030-03-05T00:00:00Z"); // 19:00 in New York, 14:00 in Honolulu, 09:00 in Tokyo
		await runDurableObjectAlarm(pacer);
		expect(dialled.map((call) => call.to)).toEqual([HONOLULU(70)]);
		expect((await pacer.view(campaign.id)).contacts).toMatchObject({ pending: 0, in_flight: 1, skipped: 1 });
	});
});
