import { createExecutionContext, createScheduledController, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { type CampaignWindow, isWindowOpen, localTime, parseClock } from "../durable-objects/campaign/schedule";
import type { CampaignPacer, PlacedCall } from "../durable-objects/campaign-pacer";
import type { OutboundCall } from "../workers/dialer/dialer";
import worker from "../workers/index";
import { signProviderPayload } from "../workers/lib/signatures";
import { call, callJson, type pbxAccount } from "./helpers";

type Account = Awaited<ReturnType<typeof pbxAccount>>;

export const pacerOf = (id: string) => env.CAMPAIGN_PACER.get(env.CAMPAIGN_PACER.idFromName(id));

export const phones = (count: number, from = 0) =>
	Array.from({ length: count }, (_, i) => `09${String(20_000_000 + from + i).slice(-8)}`);

/** A campaign that starts now and may call at any minute of any day (UTC): tests that run it for real. */
export const DIALS_NOW = {
	schedule_type: "immediate",
	scheduled_at: undefined,
	timezone: "UTC",
	start_time: "00:00",
	end_time: "23:59",
	working_days: [1, 2, 3, 4, 5, 6, 7],
} as const;

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

/** A seeded generator, so a failing run can be replayed. */
export function random(seed: number) {
	let state = seed;
	return () => {
		state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
		return state / 2 ** 31;
	};
}

/** The campaign invariants over a pacer's call log: slots, daily caps, window, no attempt twice. */
export function checkInvariants(
	log: PlacedCall[],
	window: CampaignWindow,
	maxConcurrent: number,
	maxPerDay: number,
	maxAttempts: number,
) {
	const perDay = new Map<string, number>();
	const attempts = new Set<string>();
	for (const call of log) {
		const open = log.filter(
			(other) => other.started_at <= call.started_at && (other.ended_at === null || other.ended_at > call.started_at),
		);
		expect(open.length, `in flight at ${new Date(call.started_at).toISOString()}`).toBeLessThanOrEqual(maxConcurrent);
		const day = localTime(call.started_at, window.timezone).date;
		expect(call.local_date).toBe(day);
		perDay.set(day, (perDay.get(day) ?? 0) + 1);
		expect(
			isWindowOpen(call.started_at, window),
			`started outside the window at ${new Date(call.started_at).toISOString()}`,
		).toBe(true);
		const key = `${call.contact_id}#${call.attempt}`;
		expect(attempts.has(key), `dialled twice: ${key}`).toBe(false);
		attempts.add(key);
		expect(call.attempt).toBeLessThanOrEqual(maxAttempts);
	}
	for (const [day, count] of perDay) expect(count, `calls on ${day}`).toBeLessThanOrEqual(maxPerDay);
	return perDay;
}

/** Posts a dialer callback signed as the provider signs it; answers the raw response. */
export async function dialerCallback(event: Record<string, unknown>): Promise<Response> {
	const body = JSON.stringify(event);
	return call("/api/webhooks/dialer", {
		method: "POST",
		rawBody: body,
		headers: {
			"Content-Type": "application/json",
			"X-Callgate-Signature": await signProviderPayload(env.DIALER_SECRET ?? "", body),
		},
	});
}

/** Runs the Worker's minute cron as at `at`, and waits for everything it started. */
export async function runCron(at: number): Promise<void> {
	const ctx = createExecutionContext();
	await worker.scheduled(createScheduledController({ scheduledTime: at, cron: "* * * * *" }), env, ctx);
	await waitOnExecutionContext(ctx);
}

/** The window a campaign payload describes, as the pacer sees it. */
export const windowOf = (payload: {
	timezone: string;
	start_time: string;
	end_time: string;
	working_days: number[];
	scheduled_at: string;
}): CampaignWindow => ({
	timezone: payload.timezone,
	startMinute: parseClock(payload.start_time),
	endMinute: parseClock(payload.end_time),
	workingDays: payload.working_days,
	scheduledAt: Date.parse(payload.scheduled_at),
});
