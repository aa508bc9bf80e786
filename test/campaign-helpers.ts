import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import type { OutboundCall } from "../workers/dialer/dialer";
import { callJson, type pbxAccount } from "./helpers";

type Account = Awaited<ReturnType<typeof pbxAccount>>;

export const pacerOf = (id: string) => env.CAMPAIGN_PACER.get(env.CAMPAIGN_PACER.idFromName(id));

export const phones = (count: number, from = 0) =>
	Array.from({ length: count }, (_, i) => `09${String(20_000_000 + from + i).slice(-8)}`);

/** The seed's payload, with inline contacts; scheduled far ahead so nothing dials until a test takes the clock. */
export function seedPayload(overrides: Record<string, unknown> = {}) {
	return {
		name: "Scaling Test Campaign",
		agent_id: "1f4baf16-1540-4d91-9696-7f34b2f2cb77",
		contact_source: "inline",
		contacts: phones(5),
		schedule_type: "scheduled",
		scheduled_at: "2030-03-04T14:30:00Z",
		timezone: "America/New_York",
		start_time: "10:00",
		end_time: "17:00",
		working_days: [1, 2, 3, 4, 5],
		max_concurrent_calls: 8,
		max_calls_per_day: 120,
		...overrides,
	};
}

export async function createCampaign(
	account: Account,
	overrides: Record<string, unknown> = {},
	path = "/api/autocall/campaigns",
) {
	const created = await callJson<{ id: string; status: string; live: { contacts: { total: number } } }>(path, {
		token: account.token,
		body: seedPayload(overrides),
	});
	if (created.status !== 201) throw new Error(`campaign: ${created.status} ${JSON.stringify(created.body)}`);
	return created.body;
}

/** Takes over a campaign's clock and dialer; call again after an eviction (the object forgets in-memory fakes). */
export function takeOver(id: string, clock: { now: number }, dialled: OutboundCall[] = []) {
	const inject = () =>
		runInDurableObject(pacerOf(id), (pacer: CampaignPacer) => {
			pacer.clock = () => clock.now;
			pacer.dialer = {
				place: async (call) => {
					dialled.push(call);
					return { kind: "accepted" };
				},
			};
		});
	return { inject, dialled };
}
