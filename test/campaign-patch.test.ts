import { describe, expect, it } from "vitest";
import { createCampaign, pacerOf, phones, takeOver } from "./campaign-helpers";
import { burst, call, callJson, pbxAccount } from "./helpers";

/** 09:30 New York time on a Monday is when the seed campaign's schedule starts; noon is inside its window. */
const MONDAY_NOON_NY = Date.parse("2030-03-04T17:00:00Z");

interface Campaign {
	id: string;
	start_time: string;
	end_time: string;
	timezone: string;
	version: number;
	live: { in_flight: number; calls_today: number };
}

const patch = (token: string, id: string, body: unknown, headers: Record<string, string> = {}) =>
	callJson<Campaign & { errors: Record<string, string[]> }>(`/api/autocall/campaigns/${id}`, {
		method: "PATCH",
		token,
		headers,
		body,
	});

describe("campaign PATCH is validated on the merged result", () => {
	it("an end before the stored start (or a start after the stored end) is a 422 naming the field, and nothing is stored", async () => {
		const account = await pbxAccount();
		const campaign = await createCampaign(account);
		for (const [body, field] of [
			[{ end_time: "08:00" }, "end_time"],
			[{ end_time: "10:00" }, "end_time"],
			[{ start_time: "18:00" }, "start_time"],
			[{ start_time: "17:00", max_concurrent_calls: 2 }, "start_time"],
			[{ timezone: "Mars/Olympus_Mons" }, "timezone"],
			[{ working_days: [] }, "working_days"],
			[{ working_days: [1, 1] }, "working_days"],
		] as const) {
			const refused = await patch(account.token, campaign.id, body);
			expect(refused.status, JSON.stringify(body)).toBe(422);
			expect(Object.keys(refused.body.errors), JSON.stringify(body)).toEqual([field]);
		}
		const stored = await callJson<Campaign & { max_concurrent_calls: number }>(`/api/autocall/campaigns/${campaign.id}`, {
			token: account.token,
		});
		expect(stored.body).toMatchObject({ start_time: "10:00", end_time: "17:00", max_concurrent_calls: 8, version: 1 });

		const moved = await patch(account.token, campaign.id, { start_time: "07:00", end_time: "08:00" });
		expect(moved.status).toBe(200);
		expect(moved.body).toMatchObject({ start_time: "07:00", end_time: "08:00" });
		expect((await patch(account.token, campaign.id, { end_time: "07:30" })).status).toBe(200);
		expect((await patch(account.token, campaign.id, { start_time: "07:30" })).status).toBe(422);
	});

	it("concurrent PATCHes of the two ends, without If-Match, never combine into an empty window", async () => {
		const account = await pbxAccount();
		for (let round = 0; round < 5; round++) {
			const campaign = await createCampaign(account);
			// Each is valid against 10:00–17:00; together they would store 16:00–11:00.
			const [later, earlier] = await burst(2, (i) =>
				patch(account.token, campaign.id, i === 0 ? { start_time: "16:00" } : { end_time: "11:00" }),
			);
			expect([later?.status, earlier?.status].sort()).toEqual([200, 422]);
			const stored = await callJson<Campaign>(`/api/autocall/campaigns/${campaign.id}`, { token: account.token });
			expect(stored.body.start_time < stored.body.end_time, `${stored.body.start_time}–${stored.body.end_time}`).toBe(true);
		}
	});
});

describe("a change of time zone keeps the daily cap exact", () => {
	it("Honolulu → Tokyo: the 2 calls made today still count in Tokyo's day; its next day gets 2 more", async () => {
		const account = await pbxAccount();
		const campaign = await createCampaign(account, {
			contacts: phones(10),
			timezone: "Pacific/Honolulu",
			start_time: "00:00",
			end_time: "23:59",
			working_days: [1, 2, 3, 4, 5, 6, 7],
			max_concurrent_calls: 5,
			max_calls_per_day: 2,
		});
		// 10:00 on Monday in Honolulu is already 05:00 on Tuesday in Tokyo: another local date.
		const clock = { now: Date.parse("2030-03-04T20:00:00Z") };
		const pacer = pacerOf(campaign.id);
		const { inject, dialled } = takeOver(campaign.id, clock);
		await inject();
		await pacer.wake(campaign.id);
		expect(dialled).toHaveLength(2);

		clock.now += 60_000;
		const moved = await patch(account.token, campaign.id, { timezone: "Asia/Tokyo" });
		expect(moved.status).toBe(200);
		await pacer.wake(campaign.id);
		expect(dialled, "calls after the move to Tokyo").toHaveLength(2);
		expect((await pacer.view(campaign.id)).calls_today).toBe(2);
		const got = await callJson<Campaign>(`/api/autocall/campaigns/${campaign.id}`, { token: account.token });
		expect(got.body.live.calls_today).toBe(2);

		// Tokyo's next day (from 15:00 UTC) has its own 2.
		for (const open of await pacer.openCalls()) await pacer.callEnded(campaign.id, open.id, "completed");
		clock.now = Date.parse("2030-03-05T14:59:00Z");
		await pacer.wake(campaign.id);
		expect(dialled).toHaveLength(2);
		clock.now = Date.parse("2030-03-05T15:00:00Z");
		await pacer.wake(campaign.id);
		expect(dialled).toHaveLength(4);
		expect((await pacer.view(campaign.id)).calls_today).toBe(2);
	});
});

describe("a campaign's ETag follows its live counters", () => {
	it("a call ending changes the ETag (If-None-Match → 200); unchanged → 304; If-Match with GET's ETag still writes", async () => {
		const account = await pbxAccount();
		const campaign = await createCampaign(account, { contacts: phones(5), max_concurrent_calls: 3 });
		const clock = { now: MONDAY_NOON_NY };
		const pacer = pacerOf(campaign.id);
		const { inject } = takeOver(campaign.id, clock);
		await inject();
		await pacer.wake(campaign.id);
		const path = `/api/autocall/campaigns/${campaign.id}`;

		const first = await callJson<Campaign>(path, { token: account.token });
		expect(first.body.live.in_flight).toBe(3);
		const etag = first.response.headers.get("ETag") ?? "";
		const { version } = first.body;
		expect(etag).toMatch(new RegExp(`^"v${version}-[0-9a-f]+"$`));
		expect((await call(path, { token: account.token, headers: { "If-None-Match": etag } })).status).toBe(304);

		const [open] = await pacer.openCalls();
		await pacer.callEnded(campaign.id, open?.id ?? "", "completed");
		const after = await call(path, { token: account.token, headers: { "If-None-Match": etag } });
		expect(after.status).toBe(200);
		const next = after.headers.get("ETag") ?? "";
		expect(next).not.toBe(etag);
		expect(next.startsWith(`"v${version}-`)).toBe(true);
		expect((await call(path, { token: account.token, headers: { "If-None-Match": next } })).status).toBe(304);

		// The counters moved, the stored campaign did not: a write over the first GET's tag is no conflict.
		const written = await patch(account.token, campaign.id, { max_concurrent_calls: 2 }, { "If-Match": etag });
		expect(written.status).toBe(200);
		expect(written.response.headers.get("ETag")?.startsWith(`"v${version + 1}-`)).toBe(true);
		expect((await patch(account.token, campaign.id, { max_concurrent_calls: 4 }, { "If-Match": next })).status).toBe(412);
		const paused = await call(`${path}/pause`, { method: "POST", token: account.token });
		expect(paused.headers.get("ETag")).toMatch(/^"v\d+-[0-9a-f]+"$/);
	});
});
