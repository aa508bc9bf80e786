import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_ON, shouldRetry, simulatedOutcome } from "../durable-objects/campaign/pacing";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import type { DialerSimulator } from "../durable-objects/dialer-simulator";
import type { OutboundCall } from "../workers/dialer/dialer";
import { createCampaign, dialerCallback, pacerOf, phones } from "./campaign-helpers";
import { callJson, pbxAccount } from "./helpers";
import { outboundCall } from "./support/outbound-call";

/** Monday 2030-03-04 12:00 in New York: the seed window (10:00–17:00, Mon–Fri) is open. */
const NOON = Date.parse("2030-03-04T17:00:00Z");

describe("call outcomes: answered, machine, busy, no answer, failed", () => {
	it("the simulated provider picks them by the last digit; 6 is a machine only with detection on", () => {
		expect(["0", "5", "6", "7", "8", "9"].map((digit) => simulatedOutcome(`+1415555010${digit}`))).toEqual([
			"completed",
			"completed",
			"completed",
			"no_answer",
			"busy",
			"failed",
		]);
		expect(simulatedOutcome("+14155550106", true)).toBe("voicemail");
		expect(simulatedOutcome("+14155550105", true)).toBe("completed");
	});

	it("a retry policy retries what it names: no answer and busy by default, a machine when asked", () => {
		const policy = { enabled: true, maxAttempts: 2, delayMs: 60_000, on: DEFAULT_RETRY_ON };
		expect(shouldRetry("no_answer", 1, policy)).toBe(true);
		expect(shouldRetry("busy", 2, policy)).toBe(true);
		expect(shouldRetry("busy", 3, policy)).toBe(false);
		expect(shouldRetry("voicemail", 1, policy)).toBe(false);
		expect(shouldRetry("voicemail", 1, { ...policy, on: ["voicemail"] })).toBe(true);
		expect(shouldRetry("no_answer", 1, { ...policy, on: ["voicemail"] })).toBe(false);
		expect(shouldRetry("completed", 1, { ...policy, on: ["no_answer", "busy", "voicemail"] })).toBe(false);
		expect(shouldRetry("voicemail", 1, { ...policy, enabled: false, on: ["voicemail"] })).toBe(false);
	});

	it("the simulated provider plays ringing, then answered, then the end, through the callback path", async () => {
		const account = await pbxAccount();
		const created = await callJson<{ id: string }>("/api/pbx/calls/click-to-call", {
			token: account.token,
			body: { from_extension: "1001", to_phone: "+14155550106" },
		});
		expect(created.status).toBe(201);
		const callId = created.body.id;
		const simulator = env.DIALER_SIMULATOR.get(env.DIALER_SIMULATOR.idFromName(`account:${account.id}`));
		const clock = { now: Date.now() };
		const statusOf = async () =>
			(await env.DB.prepare("SELECT status, outcome, answered_at FROM calls WHERE id = ?").bind(callId).first()) as {
				status: string;
				outcome: string | null;
				answered_at: string | null;
			};
		await runInDurableObject(simulator, async (object: DialerSimulator) => {
			object.clock = () => clock.now;
			await object.place(outboundCall({ callId, accountId: account.id, to: "+14155550106", machineDetection: true }));
		});
		expect(await statusOf()).toMatchObject({ status: "ringing", outcome: null, answered_at: null });
		clock.now += 1_000;
		await runDurableObjectAlarm(simulator);
		expect(await statusOf()).toMatchObject({ status: "in_progress", outcome: null });
		expect((await statusOf()).answered_at).not.toBeNull();
		clock.now += 2_000;
		await runDurableObjectAlarm(simulator);
		expect(await statusOf()).toMatchObject({ status: "voicemail", outcome: "voicemail" });
	});

	it("a campaign retries a machine only when its retry_on names voicemail", async () => {
		for (const [retryOn, expectedAttempts] of [
			[["no_answer", "busy"], 1],
			[["voicemail"], 2],
		] as const) {
			const account = await pbxAccount();
			const campaign = await createCampaign(account, {
				contacts: phones(1),
				machine_detection: true,
				retry_failed: true,
				max_retry_attempts: 1,
				retry_delay_seconds: 60,
				retry_on: retryOn,
			});
			const pacer = pacerOf(campaign.id);
			const clock = { now: NOON };
			const dialled: OutboundCall[] = [];
			await runInDurableObject(pacer, (object: CampaignPacer) => {
				object.clock = () => clock.now;
				object.dialer = {
					place: async (call) => {
						dialled.push(call);
						return { kind: "accepted" };
					},
				};
			});
			for (let round = 0; round < 3; round++) {
				await pacer.wake(campaign.id);
				const open = dialled.at(-1);
				if (open) {
					await dialerCallback({
						event_id: `machine-${open.callId}`,
						call_id: open.callId,
						status: "voicemail",
						occurred_at: new Date(clock.now).toISOString(),
					});
				}
				clock.now += 61_000;
				await runDurableObjectAlarm(pacer);
			}
			expect(dialled, `retry_on ${retryOn.join(",")}`).toHaveLength(expectedAttempts);
			// Every dial carried the campaign's agent and detection setting.
			for (const call of dialled)
				expect(call).toMatchObject({ agentId: "1f4baf16-1540-4d91-9696-7f34b2f2cb77", machineDetection: true, agentLeg: null });
			const live = await pacer.view(campaign.id);
			expect(live.contacts).toMatchObject({ total: 1, done: 1 });
		}
	});
});
