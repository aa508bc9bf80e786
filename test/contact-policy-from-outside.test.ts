import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { isCallable } from "../durable-objects/campaign/recipient-hours";
import { localTime } from "../durable-objects/campaign/schedule";
import { createCampaign, pacerOf, phones, windowOf } from "./campaign-helpers";
import { callJson, pbxAccount } from "./helpers";

/**
 * The "Done when", through the API only, on the real clock and the simulated provider:
 * the contact policy and the do-not-call list are set with their routes, campaigns are created
 * with theirs, and what was dialled is read back from the campaigns' calls and live counters.
 * The pacers' alarms are run by the test only so that it need not wait for them.
 */

type Account = Awaited<ReturnType<typeof pbxAccount>>;
type Live = { total: number; pending: number; in_flight: number; done: number; skipped: number };
type CampaignView = { status: string; live: { contacts: Live; window_open: boolean; next_opening_at: string | null } };
type CallRow = { to_phone: string; status: string; failure_reason: string | null };

/** Zones without daylight saving, one per whole-hour offset from −11 to +14: some zone is at any given hour now. */
const ZONES = [
	"Pacific/Pago_Pago",
	"Pacific/Honolulu",
	"Pacific/Gambier",
	"Pacific/Pitcairn",
	"America/Phoenix",
	"America/Regina",
	"America/Bogota",
	"America/La_Paz",
	"America/Argentina/Buenos_Aires",
	"America/Noronha",
	"Atlantic/Cape_Verde",
	"Africa/Abidjan",
	"Africa/Lagos",
	"Africa/Johannesburg",
	"Africa/Nairobi",
	"Asia/Dubai",
	"Asia/Tashkent",
	"Asia/Dhaka",
	"Asia/Bangkok",
	"Asia/Shanghai",
	"Asia/Tokyo",
	"Australia/Brisbane",
	"Pacific/Guadalcanal",
	"Pacific/Tarawa",
	"Pacific/Tongatapu",
	"Pacific/Kiritimati",
];

/** A zone where it is now `hour`:xx. */
function zoneAtHour(hour: number): string {
	const now = Date.now();
	const zone = ZONES.find((candidate) => Math.floor(localTime(now, candidate).minute / 60) === hour);
	if (!zone) throw new Error(`no zone at ${hour}:xx now`);
	return zone;
}

/** A campaign that dials at once and may call all day, in a zone where it is now noon: its window is open for hours. */
const dialsNow = (timezone: string) => ({
	schedule_type: "immediate",
	scheduled_at: undefined,
	timezone,
	start_time: "00:00",
	end_time: "23:59",
	working_days: [1, 2, 3, 4, 5, 6, 7],
	max_concurrent_calls: 20,
});

const putPolicy = async (account: Account, body: Record<string, unknown>) => {
	const put = await callJson("/api/account/contact-policy", { method: "PUT", token: account.token, body });
	expect(put.status).toBe(200);
};

const view = async (account: Account, id: string) =>
	(await callJson<CampaignView>(`/api/autocall/campaigns/${id}`, { token: account.token })).body;

const callsOf = async (account: Account, id: string) =>
	(await callJson<{ data: CallRow[] }>(`/api/autocall/campaigns/${id}/calls?limit=100`, { token: account.token })).body.data;

/**
 * Runs the campaigns' pacers (all at once) until their counters say they are where `settled`
 * expects and no call waits. A claim another campaign's dial of the same number holds back
 * (cleared, not yet confirmed placed) is asked again seconds later, on the real clock: the
 * rounds are half a second apart, for up to 100 s (the machine may be busy).
 */
async function settle(account: Account, ids: string[], settled: (live: Live) => boolean): Promise<void> {
	const deadline = Date.now() + 100_000;
	let last = "";
	while (Date.now() < deadline) {
		await Promise.all(ids.map((id) => runDurableObjectAlarm(pacerOf(id))));
		const views = await Promise.all(ids.map((id) => view(account, id)));
		const calls = (await Promise.all(ids.map((id) => callsOf(account, id)))).flat();
		if (views.every((v) => settled(v.live.contacts)) && calls.every((c) => c.status !== "queued")) return;
		last = JSON.stringify({ live: views.map((v) => v.live.contacts), queued: calls.filter((c) => c.status === "queued").length });
		await new Promise((resolve) => setTimeout(resolve, 500));
	}
	throw new Error(`the campaigns did not settle: ${last}`);
}

/** Every contact called or skipped. */
const allDecided = (live: Live) => live.in_flight + live.done + live.skipped === live.total;

const e164 = (local: string) => `+84${local.slice(1)}`;

describe("the contact policy from outside", () => {
	it("max_attempts_per_number {count: 1, days: 1}: two campaigns on the same numbers, dialling at once, dial each number exactly once", {
		timeout: 120_000,
	}, async () => {
		const account = await pbxAccount();
		await putPolicy(account, { max_attempts_per_number: { count: 1, days: 1 } });
		const numbers = phones(10, 31_000);
		const timezone = zoneAtHour(12);
		// Created together: both pacers reserve all ten calls and clear them with the ledger at the same moment.
		const campaigns = await Promise.all(
			[0, 1].map(() => createCampaign(account, { ...dialsNow(timezone), contacts: numbers }, "/api/public/v1/batch-calls")),
		);
		expect(campaigns.map((campaign) => campaign.status)).toEqual(["active", "active"]);
		const ids = campaigns.map((campaign) => campaign.id);
		await settle(account, ids, allDecided);

		const calls = (await Promise.all(ids.map((id) => callsOf(account, id)))).flat();
		for (const number of numbers.map(e164)) {
			const ofNumber = calls.filter((c) => c.to_phone === number);
			expect(
				ofNumber.filter((c) => c.status !== "skipped"),
				number,
			).toHaveLength(1);
			expect(
				ofNumber.filter((c) => c.status === "skipped").map((c) => c.failure_reason),
				number,
			).toEqual(["max_attempts"]);
		}
		const lives = await Promise.all(ids.map(async (id) => (await view(account, id)).live.contacts));
		expect(lives.reduce((sum, live) => sum + live.skipped, 0)).toBe(10);
		expect(lives.reduce((sum, live) => sum + live.in_flight + live.done, 0)).toBe(10);
	});

	it("recipient hours 08:00–21:00 and a listed number in one campaign: the listed number is never dialled, the closed zone's contact waits, the open one is called", async () => {
		const account = await pbxAccount();
		const rule = { recipient_hours: { start: "08:00", end: "21:00" }, unknown_timezone: "campaign" };
		await putPolicy(account, rule);
		const [listed, open, closed] = phones(3, 32_000) as [string, string, string];
		const listedNow = await callJson("/api/compliance/dnc", { token: account.token, body: { phones: [listed] } });
		expect(listedNow.status).toBe(201);
		// Noon at the open contact's end (and the campaign's), 02:00 at the closed one's.
		const openZone = zoneAtHour(12);
		const closedZone = zoneAtHour(2);
		const config = dialsNow(openZone);
		const campaign = await createCampaign(account, {
			...config,
			contacts: [
				{ phone: listed, timezone: openZone },
				{ phone: open, timezone: openZone },
				{ phone: closed, timezone: closedZone },
			],
		});
		// Settled: the closed zone's contact waits, the other two are decided.
		await settle(account, [campaign.id], (live) => live.pending === 1 && live.in_flight + live.done + live.skipped === 2);

		const calls = await callsOf(account, campaign.id);
		expect(calls.filter((c) => c.to_phone === e164(listed)).map((c) => [c.status, c.failure_reason])).toEqual([
			["skipped", "do_not_call"],
		]);
		expect(calls.filter((c) => c.to_phone === e164(open)).map((c) => c.status)).not.toContain("skipped");
		expect(calls.filter((c) => c.to_phone === e164(open))).toHaveLength(1);
		expect(calls.filter((c) => c.to_phone === e164(closed))).toEqual([]);

		const { live } = await view(account, campaign.id);
		expect(live.contacts).toMatchObject({ total: 3, pending: 1, skipped: 1 });
		expect(live.contacts.in_flight + live.contacts.done).toBe(1);
		// Only the closed zone's contact is left: nothing may be called now, and the next opening is its 08:00.
		expect(live.window_open).toBe(false);
		const next = Date.parse(live.next_opening_at ?? "");
		expect(next).toBeGreaterThan(Date.now());
		expect(localTime(next, closedZone).minute).toBe(8 * 60);
		const window = windowOf({ ...config, scheduled_at: new Date(0).toISOString() });
		const hours = { startMinute: 8 * 60, endMinute: 21 * 60 };
		expect(isCallable(next, window, [closedZone], { hours, unknownTimezone: "campaign" })).toBe(true);
	});
});
