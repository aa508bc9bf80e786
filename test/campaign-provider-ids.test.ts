import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import type { OutboundCall } from "../workers/dialer/dialer";
import { createCampaign, pacerOf, phones } from "./campaign-helpers";
import { callJson, pbxAccount } from "./helpers";

/** Monday 2030-03-04 12:00 in New York: the seed window is open. */
const NOON = Date.parse("2030-03-04T17:00:00Z");

describe("a campaign call's record in D1 names its caller id and the carrier's id", () => {
	it("the pacer writes both; a re-ask after a lost answer carries the time of the first", async () => {
		const account = await pbxAccount();
		const caller = await callJson("/api/pbx/caller-ids", {
			token: account.token,
			body: { number: "+84987650001", label: "main" },
		});
		expect(caller.status).toBe(201);
		const campaign = await createCampaign(account, { contacts: phones(2), max_concurrent_calls: 2 });
		const pacer = pacerOf(campaign.id);
		const clock = { now: NOON };
		const asks: OutboundCall[] = [];
		await runInDurableObject(pacer, (object: CampaignPacer) => {
			object.clock = () => clock.now;
			object.random = () => 0.5;
			object.dialer = {
				place: async (call) => {
					asks.push(call);
					// The first ask of the first call loses its answer; everything else is taken, with the carrier's id.
					if (asks.length === 1) return { kind: "transient", reason: "The provider did not answer in time.", uncertain: true };
					return { kind: "accepted", providerCallId: `CA${call.callId.replaceAll("-", "")}` };
				},
			};
		});
		await pacer.wake(campaign.id);
		for (let step = 0; step < 10 && asks.length < 3; step++) {
			clock.now += 5_000;
			await runDurableObjectAlarm(pacer);
		}
		expect(asks).toHaveLength(3);
		const [lost, other, again] = asks;
		expect(again?.callId).toBe(lost?.callId);
		expect(other?.firstAskedAt).toBeNull();
		expect(again?.firstAskedAt).not.toBeNull();
		expect(again?.firstAskedAt).toBe(NOON);
		await runDurableObjectAlarm(pacer);
		const { results } = await env.DB.prepare(
			"SELECT id, caller_id, provider_call_id FROM calls WHERE campaign_id = ? ORDER BY id",
		)
			.bind(campaign.id)
			.all<{ id: string; caller_id: string; provider_call_id: string }>();
		expect(results).toHaveLength(2);
		for (const row of results) {
			expect(row).toEqual({ id: row.id, caller_id: "+84987650001", provider_call_id: `CA${row.id.replaceAll("-", "")}` });
		}
	});
});
