import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { PacerConfig } from "../durable-objects/campaign/config";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import { createCampaign, pacerOf, phones } from "./campaign-helpers";
import { pbxAccount } from "./helpers";

/**
 * Review 2: a holding call (maybe_placed, in backoff) keeps its slot until it is asked again.
 * `nextWake` assumes that a due contact waiting in an open window is held back only by full
 * slots, "and a call ending wakes it" — but a slot held by a holding call is freed by no call
 * ending: only its own due time, for which no alarm is set.
 */

const NOON = Date.parse("2030-03-04T17:00:00Z");

async function mixedRound(maxConcurrent: number) {
	const account = await pbxAccount();
	const campaign = await createCampaign(account, { contacts: phones(6), max_concurrent_calls: maxConcurrent });
	const pacer = pacerOf(campaign.id);
	const clock = { now: NOON };
	let asked = 0;
	const ids: string[] = [];
	await runInDurableObject(pacer, (object: CampaignPacer) => {
		object.clock = () => clock.now;
		object.random = () => 0.5;
		object.dialer = {
			place: async (call) => {
				asked++;
				ids.push(call.callId);
				// Round one: the first request is taken; the second's connection drops (the provider never saw it).
				if (asked === 2) return { kind: "transient", reason: "The provider could not be reached.", uncertain: true };
				return { kind: "accepted" };
			},
		};
	});
	await pacer.wake(campaign.id);
	const holding = ids[1] as string;
	const due = await runInDurableObject(pacer, (_: CampaignPacer, state) =>
		state.storage.sql
			.exec<{ at: number }>(
				"SELECT k.next_due_at AS at FROM contacts k JOIN calls c ON c.contact_id = k.id WHERE c.id = ?",
				holding,
			)
			.one(),
	);
	const alarm = () => runInDurableObject(pacer, (_: CampaignPacer, state) => state.storage.getAlarm());
	return { campaign, pacer, clock, ids, holding, dueAt: due.at, alarm };
}

describe("a held call that is due is asked again on time", () => {
	it("after a round with one acceptance and one dropped connection, the next alarm is the held call's due time", async () => {
		const { pacer, campaign, dueAt, alarm } = await mixedRound(2);
		const view = await pacer.view(campaign.id);
		expect(view.in_flight).toBe(2);
		expect(dueAt).toBe(NOON + 1_000);
		const wake = await alarm();
		// Actual: the accepted call's deadline (MAX_CALL_SECONDS later): the slot sits idle, six contacts wait.
		expect(wake === null ? null : new Date(wake).toISOString(), "next alarm (the holding call is due at 17:00:01Z)").toBe(
			new Date(dueAt).toISOString(),
		);
	});

	it("after max_concurrent_calls is lowered and the other call ends, an alarm is still set for the held call", async () => {
		const { pacer, campaign, clock, ids, alarm } = await mixedRound(2);
		const state = await runInDurableObject(pacer, (_: CampaignPacer, s) => s.storage.kv.get<{ config: PacerConfig }>("state"));
		const config = state?.config as PacerConfig;
		await pacer.configure(campaign.id, { ...config, maxConcurrent: 1, version: config.version + 1 });
		clock.now += 500;
		await pacer.callEnded(campaign.id, ids[0] as string, "completed");
		const view = await pacer.view(campaign.id);
		expect(view.in_flight, "only the holding call").toBe(1);
		expect(view.contacts.done).toBe(1);
		// Nothing wakes the object when the holding call falls due (the cron sweep is its only backstop).
		expect(await alarm(), "alarm with a holding call due in 500 ms and 4 contacts waiting").not.toBeNull();
	});
});

describe("a held call that no longer holds its slot, while the slots are full", () => {
	it("wakes the pacer only when something can change (here the slot freeing), not every second", async () => {
		const account = await pbxAccount();
		const [first, second] = phones(2, 300);
		const campaign = await createCampaign(account, { contacts: [first, second], max_concurrent_calls: 1 });
		const pacer = pacerOf(campaign.id);
		const clock = { now: NOON };
		const asks: string[] = [];
		await runInDurableObject(pacer, (object: CampaignPacer) => {
			object.clock = () => clock.now;
			object.random = () => 0.5;
			object.dialer = {
				place: async (call) => {
					asks.push(call.to);
					// The first number's dials never get an answer: the provider may have each.
					if (call.to.endsWith(first?.slice(1) ?? "")) throw new TypeError("connection reset");
					return { kind: "accepted" };
				},
			};
		});
		const alarm = () => runInDurableObject(pacer, (_: CampaignPacer, state) => state.storage.getAlarm());
		await pacer.wake(campaign.id);
		expect(asks).toHaveLength(1);
		expect((await pacer.view(campaign.id)).in_flight, "the held call keeps its slot").toBe(1);

		// Paused past MAX_CALL_SECONDS: the held call can no longer be live and holds no slot. On
		// resume the second contact (due first) takes the one slot; the held call, due, waits for it.
		await pacer.pause(campaign.id);
		clock.now += 901_000;
		await pacer.resume(campaign.id);
		expect(asks).toHaveLength(2);
		const resumedAt = clock.now;
		expect(await pacer.view(campaign.id)).toMatchObject({ in_flight: 1, contacts: { pending: 1, in_flight: 1 } });

		// Nothing can change before the placed call ends (its callback, or its deadline): no alarm runs until then.
		const deadline = resumedAt + 900_000;
		let runs = 0;
		for (;;) {
			const at = await alarm();
			if (at === null || at >= deadline || runs >= 100) break;
			clock.now = Math.max(clock.now + 1, at);
			await runDurableObjectAlarm(pacer);
			runs++;
		}
		expect(runs, "alarm runs while the slot stays full").toBe(0);
		expect(await alarm()).toBe(deadline);

		// The slot frees: the held call is asked again at once.
		clock.now = resumedAt + 60_000;
		const [open] = await pacer.openCalls();
		await pacer.callEnded(campaign.id, open?.id ?? "", "completed");
		expect(asks).toHaveLength(3);
		expect(asks[2]).toBe(asks[0]);
	});
});
