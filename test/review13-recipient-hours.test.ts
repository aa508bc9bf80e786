import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import type { DialResult, OutboundCall } from "../workers/dialer/dialer";
import { createCampaign, pacerOf } from "./campaign-helpers";
import { callJson, pbxAccount } from "./helpers";

/** Review of issue 13: recipient hours in the pacer. */

const TCPA = { recipient_hours: { start: "08:00", end: "21:00" } };
type Account = Awaited<ReturnType<typeof pbxAccount>>;

async function putPolicy(account: Account, body: Record<string, unknown>) {
	const put = await callJson("/api/account/contact-policy", { method: "PUT", token: account.token, body });
	expect(put.status).toBe(200);
}

async function campaignOf(
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

describe("review13: a held call outside its recipient's hours", () => {
	it("does not keep its concurrency slot until those hours reopen: contacts of open zones are dialled meanwhile", async () => {
		const account = await pbxAccount();
		await putPolicy(account, TCPA);
		const honolulu = "+18085550101";
		const vietnam = ["0987013301", "0987013302"];
		const dialled: string[] = [];
		let first = true;
		// Honolulu's first dial gets no answer (the provider may have placed it): the call is held.
		const place = async (call: OutboundCall): Promise<DialResult> => {
			if (call.to === honolulu && first) {
				first = false;
				throw new TypeError("connection reset");
			}
			dialled.push(call.to);
			return { kind: "accepted" };
		};
		// Tuesday 06:59Z: 20:59 on Monday in Honolulu, 13:59 in Vietnam. The campaign's window is always open.
		const clock = { now: Date.parse("2030-03-05T06:59:00Z") };
		const campaign = await campaignOf(account, [honolulu, ...vietnam], clock, place, {
			scheduled_at: "2030-03-04T00:00:00Z",
			timezone: "UTC",
			start_time: "00:00",
			end_time: "23:59",
			working_days: [1, 2, 3, 4, 5, 6, 7],
			max_concurrent_calls: 1,
		});
		await campaign.pacer.wake(campaign.id);
		expect(dialled).toEqual([]);

		// 07:30Z: 21:30 in Honolulu (closed until 08:00 there, 18:00Z), 14:30 in Vietnam (open).
		// 31 minutes after its only ask, longer than any call lasts (MAX_CALL_SECONDS 900): had the
		// provider placed it, it would be over; it cannot be what fills the slot.
		clock.now = Date.parse("2030-03-05T07:30:00Z");
		await campaign.pacer.wake(campaign.id);
		// The Vietnamese contacts wait for nothing they need: the one slot is held by a call that
		// may not be asked again for another ten and a half hours.
		expect(dialled).toEqual(["+84987013301"]);
	});
});

describe("review13: recipient hours that never meet the campaign's window", () => {
	it("an active campaign whose window is closed to every pending contact still says when it opens (next_opening_at is null only while open)", async () => {
		const account = await pbxAccount();
		await putPolicy(account, TCPA);
		// Monday 10:00 in New York (09:00–17:00 weekdays): 00:00 in Tokyo, whose 08:00–21:00 is New York's 18:00–07:00.
		const clock = { now: Date.parse("2030-03-04T15:00:00Z") };
		const campaign = await campaignOf(account, ["+81312345678"], clock, async () => ({ kind: "accepted" }), {
			scheduled_at: "2030-03-04T14:00:00Z",
			timezone: "America/New_York",
			start_time: "09:00",
			end_time: "17:00",
			max_concurrent_calls: 2,
		});
		await campaign.pacer.wake(campaign.id);
		const live = await callJson<{ status: string; live: { window_open: boolean; next_opening_at: string | null } }>(
			`/api/autocall/campaigns/${campaign.id}`,
			{ token: account.token },
		);
		expect(live.body.status).toBe("active");
		expect(live.body.live.window_open).toBe(false);
		// AutocallCampaign.live.next_opening_at: "null while it is open, and for a campaign that is neither active nor scheduled".
		expect(live.body.live.next_opening_at, "closed, active, and no opening: the contact waits for ever").not.toBeNull();
	});
});
