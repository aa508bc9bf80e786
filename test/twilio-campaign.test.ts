import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import { twilioDialer } from "../workers/carriers/twilio/voice";
import { checkInvariants, createCampaign, pacerOf, phones, random, runCron, windowOf } from "./campaign-helpers";
import { call, callJson, countRows, pbxAccount } from "./helpers";
import { callbackHeaders, type SignedCallback, TwilioStandin } from "./support/carriers/twilio-standin";

const SID = "AC00000000000000000000000000000001";
const TOKEN = "test-twilio-auth-token";
/** A caller id of its own per account: a number is registered to one account only. */
let callerIds = 0;
const uniqueCallerId = () => `+1500555${String(1000 + ++callerIds)}`;
const realFetch = globalThis.fetch;

afterEach(() => vi.restoreAllMocks());

/** The outcome the stand-in plays for a number, by its last digit (as the simulated provider does). */
function outcomeOf(number: string, machineDetection: boolean): "completed" | "voicemail" | "no_answer" | "busy" | "failed" {
	const digit = Number(number.at(-1));
	if (digit <= 5) return "completed";
	if (digit === 6) return machineDetection ? "voicemail" : "completed";
	return digit === 7 ? "no_answer" : digit === 8 ? "busy" : "failed";
}

/** Twilio's callbacks for one call, in the order Twilio sends them (the instructions request when answered). */
async function lifecycle(standin: TwilioStandin, sid: string, machineDetection: boolean, at: number) {
	const record = standin.calls.get(sid);
	if (!record) throw new Error(`no call ${sid}`);
	const outcome = outcomeOf(record.to, machineDetection);
	const machine: Record<string, string> =
		outcome === "voicemail" ? { AnsweredBy: "machine_start" } : machineDetection ? { AnsweredBy: "human" } : {};
	const list: SignedCallback[] = [await standin.statusCallback(sid, "initiated", {}, at)];
	if (outcome === "failed") {
		list.push(await standin.statusCallback(sid, "failed", { SipResponseCode: "503", ErrorCode: "32011" }, at + 1_000));
		return { outcome, list };
	}
	list.push(await standin.statusCallback(sid, "ringing", {}, at + 1_000));
	if (outcome === "no_answer" || outcome === "busy") {
		list.push(await standin.statusCallback(sid, outcome === "busy" ? "busy" : "no-answer", {}, at + 20_000));
		return { outcome, list };
	}
	list.push(await standin.answerRequest(sid, machine));
	list.push(await standin.statusCallback(sid, "in-progress", machine, at + 5_000));
	list.push(await standin.statusCallback(sid, "completed", { ...machine, CallDuration: "37" }, at + 42_000));
	return { outcome, list };
}

describe("a campaign dialled through the Twilio adapter under random load", () => {
	it("holds every invariant; Twilio dials each attempt once; callbacks delayed, duplicated and out of order settle every contact", {
		timeout: 240_000,
	}, async () => {
		const seed = 20301107;
		const rand = random(seed);
		const account = await pbxAccount();
		await env.DB.prepare("UPDATE accounts SET agent_answer_url = ? WHERE id = ?")
			.bind("https://agents.example.com/answer", account.id)
			.run();
		const CALLER_ID = uniqueCallerId();
		const callerId = await callJson("/api/pbx/caller-ids", { token: account.token, body: { number: CALLER_ID, label: "Main" } });
		expect(callerId.status).toBe(201);
		const config = {
			contacts: phones(90),
			scheduled_at: "2030-03-04T15:00:00Z",
			timezone: "America/New_York",
			start_time: "09:00",
			end_time: "17:00",
			working_days: [1, 2, 3, 4, 5],
			max_concurrent_calls: 6,
			max_calls_per_day: 150,
			retry_failed: true,
			max_retry_attempts: 1,
			retry_delay_seconds: 600,
			machine_detection: true,
			caller_id: CALLER_ID,
		};
		const campaign = await createCampaign(account, config);
		const window = windowOf(config);
		const pacer = pacerOf(campaign.id);
		const clock = { now: Date.parse("2030-03-04T15:00:00Z") };

		// Twilio, standing in: its clock is the campaign's, it refuses some numbers for good.
		const standin = new TwilioStandin(SID, TOKEN, () => clock.now);
		const refusedNumbers = new Set(["+84920000013", "+84920000047", "+84920000071"]);
		for (const number of refusedNumbers) standin.refused.add(number);
		vi.spyOn(globalThis, "fetch").mockImplementation(standin.fetchFor(realFetch));
		const faults = { unavailable: 0, rateLimited: 0, lostAnswers: 0, duplicates: 0, reordered: 0, evictions: 0 };
		const inject = () =>
			runInDurableObject(pacer, (object: CampaignPacer) => {
				object.clock = () => clock.now;
				// Its own sequence: the pacer draws as many jitters as its timing makes, which must not shift the test's.
				object.random = random(seed + 1);
				object.dialer = twilioDialer(env);
			});
		await inject();

		// Callbacks wait in a queue with a due step: delayed, sometimes twice, in any order.
		const queue: { due: number; callback: SignedCallback }[] = [];
		const scheduled = new Set<string>();
		const expected = new Map<string, string>();
		const results: string[] = [];
		const deliver = async (callback: SignedCallback) => {
			const response = await call(callback.path, { method: "POST", rawBody: callback.body, headers: callbackHeaders(callback) });
			const text = await response.text();
			expect(response.status, `${callback.path} ${text}`).toBe(200);
			if (!text.startsWith("<")) results.push((JSON.parse(text) as { result: string }).result);
		};

		for (let step = 0; step < 3_000 && (await pacer.view(campaign.id)).status !== "completed"; step++) {
			// Steps of up to a minute: a call's callbacks arrive within minutes, well inside MAX_CALL_SECONDS.
			clock.now += Math.floor(rand() * 60_000) + 1_000;
			// Twilio is unavailable now and then, or rate-limits, with a Retry-After; or an answer is lost on the way.
			// Each kind at least once (early, at fixed steps), then at random.
			const roll = step === 3 ? 0 : step === 6 ? 0.06 : step === 9 ? 0.1 : rand();
			if (roll < 0.05) {
				standin.faults.push({ kind: "status", status: 503, retryAfter: String(Math.ceil(rand() * 120)) });
				faults.unavailable++;
			} else if (roll < 0.09) {
				standin.faults.push({ kind: "status", status: 429, retryAfter: String(Math.ceil(rand() * 30)) });
				faults.rateLimited++;
			} else if (roll < 0.13) {
				standin.faults.push({ kind: "lose-answer" });
				faults.lostAnswers++;
			}
			// Every call Twilio holds plays its life: its callbacks are queued with random delays.
			for (const record of standin.calls.values()) {
				if (scheduled.has(record.sid)) continue;
				scheduled.add(record.sid);
				const { outcome, list } = await lifecycle(standin, record.sid, true, clock.now);
				expected.set(new URL(record.statusCallback.split("#")[0] ?? "").searchParams.get("call_id") ?? "", outcome);
				let due = step;
				for (const callback of list) {
					due += Math.floor(rand() * 2);
					const jitter = rand() < 0.15 ? -Math.ceil(rand() * 2) : 0;
					if (jitter) faults.reordered++;
					queue.push({ due: due + jitter, callback });
					if (rand() < 0.15) {
						queue.push({ due: due + Math.floor(rand() * 4), callback });
						faults.duplicates++;
					}
				}
			}
			const due = queue.filter((item) => item.due <= step).sort(() => rand() - 0.5);
			for (const item of due) {
				queue.splice(queue.indexOf(item), 1);
				await deliver(item.callback);
			}
			if (rand() < 0.01) {
				await evictDurableObject(pacer);
				await inject();
				faults.evictions++;
			}
			if (rand() < 0.03) await runCron(clock.now);
			await runDurableObjectAlarm(pacer);
		}
		for (const item of queue.splice(0)) await deliver(item.callback);
		clock.now += 60_000;
		await runCron(clock.now);
		await runDurableObjectAlarm(pacer);

		const view = await pacer.view(campaign.id);
		expect(view.status).toBe("completed");
		expect(await pacer.unrecorded()).toEqual({ rows: 0, events: 0 });
		const log = await pacer.callLog();
		checkInvariants(log, window, config.max_concurrent_calls, config.max_calls_per_day, config.max_retry_attempts + 1);
		for (const [kind, count] of Object.entries(faults)) if (kind !== "evictions") expect(count, kind).toBeGreaterThan(0);

		// Twilio's own log: each callgate call was created at most once, and only calls the pacer started.
		const created = standin
			.creates()
			.filter((request) => request.status === 201)
			.map((request) => new URL(new URLSearchParams(request.params).get("Url") ?? "").searchParams.get("call_id"));
		expect(new Set(created).size, "a call created twice at Twilio").toBe(created.length);
		// Answers were lost on the way, and the asks that followed looked at Twilio's list first.
		expect(standin.requests.filter((request) => request.method === "GET").length).toBeGreaterThan(0);
		const logged = new Set(log.map((entry) => entry.id));
		for (const id of created) expect(logged.has(id ?? ""), `${id} was not started by the pacer`).toBe(true);
		// No number rang more often than the pacer started attempts for it.
		const attemptsPerPhone = new Map<string, number>();
		const { results: rows } = await env.DB.prepare("SELECT id, to_phone, status, failure_reason FROM calls WHERE campaign_id = ?")
			.bind(campaign.id)
			.all<{ id: string; to_phone: string; status: string; failure_reason: string | null }>();
		for (const row of rows) attemptsPerPhone.set(row.to_phone, (attemptsPerPhone.get(row.to_phone) ?? 0) + 1);
		for (const record of standin.calls.values()) {
			const rung = [...standin.calls.values()].filter((other) => other.to === record.to).length;
			expect(rung, record.to).toBeLessThanOrEqual(attemptsPerPhone.get(record.to) ?? 0);
		}
		// Every contact has its final outcome; every call ended as Twilio said, the refused ones failed with Twilio's reason.
		expect(view.contacts).toMatchObject({ total: 90, done: 90 });
		expect(await countRows("campaign_contacts", "campaign_id = ? AND status != 'done'", campaign.id)).toBe(0);
		expect(rows.filter((row) => !["completed", "voicemail", "no_answer", "busy", "failed"].includes(row.status))).toEqual([]);
		for (const row of rows) {
			if (refusedNumbers.has(row.to_phone)) {
				expect(row.status).toBe("failed");
				expect(row.failure_reason).toBe(`Twilio 21211: The 'To' number ${row.to_phone} is not a valid phone number.`);
			} else {
				expect(row.status, row.to_phone).toBe(expected.get(row.id));
			}
		}
		expect(results).not.toContain("unknown-call");
		const tally = Object.fromEntries(Object.entries(Object.groupBy(results, (r) => r)).map(([k, v]) => [k, v?.length ?? 0]));
		console.log(JSON.stringify({ seed, calls: log.length, twilioCreates: created.length, faults, callbacks: tally }));
	});
});

describe("Twilio outages and refusals, seen through the pacer", () => {
	async function campaignWith(contacts: string[]) {
		const account = await pbxAccount();
		const CALLER_ID = uniqueCallerId();
		expect(
			(await callJson("/api/pbx/caller-ids", { token: account.token, body: { number: CALLER_ID, label: "Main" } })).status,
		).toBe(201);
		const campaign = await createCampaign(account, {
			contacts,
			scheduled_at: "2030-03-04T15:00:00Z",
			start_time: "09:00",
			end_time: "17:00",
			max_concurrent_calls: 2,
			caller_id: CALLER_ID,
		});
		const pacer = pacerOf(campaign.id);
		const clock = { now: Date.parse("2030-03-04T15:00:00Z") };
		const standin = new TwilioStandin(SID, TOKEN, () => clock.now);
		vi.spyOn(globalThis, "fetch").mockImplementation(standin.fetchFor(realFetch));
		await runInDurableObject(pacer, (object: CampaignPacer) => {
			object.clock = () => clock.now;
			object.random = () => 0.5;
			object.dialer = twilioDialer(env);
		});
		return { account, campaign, pacer, clock, standin };
	}

	it("503 with Retry-After: the contact waits with its attempt unused, nothing counts, and Twilio is not asked before Retry-After", async () => {
		const { campaign, pacer, clock, standin } = await campaignWith(phones(1, 500));
		standin.faults.push({ kind: "status", status: 503, retryAfter: "90" });
		await pacer.wake(campaign.id);
		expect(standin.creates()).toHaveLength(1);
		let view = await pacer.view(campaign.id);
		expect(view.provider).toMatchObject({ state: "unavailable", last_error: "Twilio 20500: Service Unavailable" });
		expect(view.contacts).toMatchObject({ pending: 1, in_flight: 0 });
		expect(view.calls_today).toBe(0);
		expect(await countRows("campaign_contacts", "campaign_id = ? AND attempts > 0", campaign.id)).toBe(0);
		// Not before Retry-After.
		clock.now += 60_000;
		await runDurableObjectAlarm(pacer);
		expect(standin.creates()).toHaveLength(1);
		clock.now += 31_000;
		await runDurableObjectAlarm(pacer);
		expect(standin.creates()).toHaveLength(2);
		view = await pacer.view(campaign.id);
		expect(view.provider.state).toBe("available");
		expect(view.calls_today).toBe(1);
	});

	it("429 with Retry-After is the same: transient, never before Retry-After", async () => {
		const { campaign, pacer, clock, standin } = await campaignWith(phones(1, 510));
		standin.faults.push({ kind: "status", status: 429, retryAfter: "45" });
		await pacer.wake(campaign.id);
		expect((await pacer.view(campaign.id)).provider).toMatchObject({
			state: "unavailable",
			last_error: "Twilio 20429: Too Many Requests",
		});
		clock.now += 40_000;
		await runDurableObjectAlarm(pacer);
		expect(standin.creates()).toHaveLength(1);
		clock.now += 6_000;
		await runDurableObjectAlarm(pacer);
		expect(standin.creates()).toHaveLength(2);
		expect((await pacer.view(campaign.id)).contacts.in_flight).toBe(1);
	});

	it("a number Twilio refuses (21211): that attempt ends failed with Twilio's reason; the next contact is dialled", async () => {
		const contacts = phones(2, 520);
		const { campaign, pacer, standin } = await campaignWith(contacts);
		standin.refused.add(`+84${contacts[0]?.slice(1)}`);
		await pacer.wake(campaign.id);
		const { results } = await env.DB.prepare("SELECT to_phone, status, failure_reason, attempt FROM calls WHERE campaign_id = ?")
			.bind(campaign.id)
			.all<{ to_phone: string; status: string; failure_reason: string | null; attempt: number }>();
		const refused = results.find((row) => row.to_phone === `+84${contacts[0]?.slice(1)}`);
		expect(refused).toMatchObject({
			status: "failed",
			attempt: 1,
			failure_reason: `Twilio 21211: The 'To' number +84${contacts[0]?.slice(1)} is not a valid phone number.`,
		});
		expect(standin.calls.size).toBe(1);
		expect((await pacer.view(campaign.id)).provider.state).toBe("available");
	});
});

describe("a campaign call that would outlive MAX_CALL_SECONDS at Twilio", () => {
	it("Twilio is told TimeLimit and ends the call before the pacer's deadline, so max_concurrent_calls holds at Twilio too", async () => {
		const account = await pbxAccount({ default_region: "US" });
		await env.DB.prepare("UPDATE accounts SET agent_answer_url = ? WHERE id = ?")
			.bind("https://agents.example.com/answer", account.id)
			.run();
		const CALLER_ID = uniqueCallerId();
		expect(
			(await callJson("/api/pbx/caller-ids", { token: account.token, body: { number: CALLER_ID, label: "Main" } })).status,
		).toBe(201);
		const campaign = await createCampaign(account, {
			contacts: ["+14155550101", "+14155550102"],
			max_concurrent_calls: 1,
			caller_id: CALLER_ID,
		});
		const clock = { now: Date.parse("2030-03-04T17:00:00Z") };
		const standin = new TwilioStandin(SID, TOKEN, () => clock.now);
		vi.spyOn(globalThis, "fetch").mockImplementation(standin.fetchFor(realFetch));
		const post = async (callback: SignedCallback) => {
			const response = await call(callback.path, { method: "POST", rawBody: callback.body, headers: callbackHeaders(callback) });
			expect(response.status).toBe(200);
			return response.text();
		};
		const pacer = pacerOf(campaign.id);
		await runInDurableObject(pacer, (object: CampaignPacer) => {
			object.clock = () => clock.now;
			object.random = () => 0.5;
			object.dialer = twilioDialer(env);
		});
		await pacer.wake(campaign.id);
		for (let step = 0; step < 3 && standin.creates().length === 0; step++) {
			clock.now += 1_000;
			await runDurableObjectAlarm(pacer);
		}
		expect(standin.creates()).toHaveLength(1);
		// MAX_CALL_SECONDS (900) less the ring timeout (30) and a margin (30), counted by Twilio from the answer.
		expect(new URLSearchParams(standin.creates()[0]?.params).get("TimeLimit")).toBe("840");
		const [first] = [...standin.calls.values()];
		if (!first) throw new Error("no call");
		// The customer answers after the longest ring Twilio allows, and talks with the agent platform on and on.
		clock.now += 30_000;
		await post(await standin.statusCallback(first.sid, "ringing", {}, clock.now - 29_000));
		await post(await standin.answerRequest(first.sid));
		await post(await standin.statusCallback(first.sid, "in-progress", {}, clock.now));
		// Twilio ends the call at its TimeLimit; the pacer's deadline (900 s after the dial was accepted) comes later.
		for (let step = 0; step < 40; step++) {
			clock.now += 30_000;
			for (const ended of await standin.endOverdue(clock.now))
				expect(await post(ended)).toBe(JSON.stringify({ result: "applied" }));
			await runDurableObjectAlarm(pacer);
		}
		expect(standin.creates(), "the next contact was dialled").toHaveLength(2);
		expect(standin.peakLive, "calls live at Twilio at once").toBe(1);
		const row = await env.DB.prepare("SELECT status, duration_seconds FROM calls WHERE provider_call_id = ?")
			.bind(first.sid)
			.first<{ status: string; duration_seconds: number }>();
		expect(row, "Twilio's end, not callgate's timeout, closed the call").toEqual({ status: "completed", duration_seconds: 840 });
	});
});
