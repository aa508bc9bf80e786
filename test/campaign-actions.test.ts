import {
	createExecutionContext,
	createScheduledController,
	runDurableObjectAlarm,
	runInDurableObject,
	waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { CampaignPacer } from "../durable-objects/campaign-pacer";
import type { DialerSimulator } from "../durable-objects/dialer-simulator";
import worker from "../workers/index";
import { signProviderPayload } from "../workers/lib/signatures";
import { createCampaign, DIALS_NOW, pacerOf, phones, seedPayload, takeOver } from "./campaign-helpers";
import { call, callJson, countRows, pbxAccount } from "./helpers";

const MONDAY_NOON_NY = Date.parse("2030-03-04T17:00:00Z");

async function running(overrides: Record<string, unknown> = {}) {
	const account = await pbxAccount();
	const campaign = await createCampaign(account, { contacts: phones(20), max_concurrent_calls: 3, ...overrides });
	const clock = { now: MONDAY_NOON_NY };
	const { inject, dialled } = takeOver(campaign.id, clock);
	await inject();
	await pacerOf(campaign.id).wake(campaign.id);
	return { account, campaign, clock, dialled, pacer: pacerOf(campaign.id) };
}

const post = (token: string, path: string, headers: Record<string, string> = {}) =>
	callJson<{ status: string; live: { in_flight: number } }>(path, { method: "POST", token, headers });

describe("campaign actions", () => {
	it("pause: nothing new starts, in-flight calls finish and are recorded; resume continues where it stopped", async () => {
		const { account, campaign, dialled, pacer } = await running();
		expect(dialled).toHaveLength(3);
		const paused = await post(account.token, `/api/autocall/campaigns/${campaign.id}/pause`);
		expect(paused.body.status).toBe("paused");
		// The answer's ETag is already the record's: usable for If-Match at once.
		const current = await call(`/api/autocall/campaigns/${campaign.id}`, { token: account.token });
		expect(current.headers.get("ETag")).toBe(paused.response.headers.get("ETag"));
		for (const placed of dialled) expect(await pacer.callEnded(campaign.id, placed.callId, "completed")).toBe(true);
		await runDurableObjectAlarm(pacer);
		expect(dialled).toHaveLength(3);
		const log = await pacer.callLog();
		expect(log.every((c) => c.outcome === "completed")).toBe(true);

		const resumed = await post(account.token, `/api/autocall/campaigns/${campaign.id}/resume`);
		expect(resumed.body.status).toBe("active");
		expect(dialled).toHaveLength(6);
		expect(new Set(dialled.map((d) => d.to)).size).toBe(6);
	});

	it("resume returns to scheduled while the start is still ahead", async () => {
		const account = await pbxAccount();
		const campaign = await createCampaign(account);
		expect((await post(account.token, `/api/autocall/campaigns/${campaign.id}/pause`)).body.status).toBe("paused");
		expect((await post(account.token, `/api/autocall/campaigns/${campaign.id}/resume`)).body.status).toBe("scheduled");
	});

	it("cancel stops for good; actions that make no sense are 409; actions are idempotent with a key", async () => {
		const { account, campaign, dialled, pacer } = await running();
		const key = { "Idempotency-Key": crypto.randomUUID() };
		const cancelled = await post(account.token, `/api/autocall/campaigns/${campaign.id}/cancel`, key);
		expect(cancelled.body.status).toBe("cancelled");
		const replay = await call(`/api/autocall/campaigns/${campaign.id}/cancel`, {
			method: "POST",
			token: account.token,
			headers: key,
		});
		expect(replay.headers.get("Idempotent-Replayed")).toBe("true");
		for (const placed of dialled) await pacer.callEnded(campaign.id, placed.callId, "completed");
		await runDurableObjectAlarm(pacer);
		expect(dialled).toHaveLength(3);
		expect((await post(account.token, `/api/autocall/campaigns/${campaign.id}/resume`)).status).toBe(409);
		expect((await post(account.token, `/api/autocall/campaigns/${campaign.id}/pause`)).status).toBe(409);
	});

	it("lowering max_concurrent_calls never kills a live call; raising it refills at once", async () => {
		const { account, campaign, dialled, pacer } = await running({ max_concurrent_calls: 5 });
		expect(dialled).toHaveLength(5);
		const lowered = await callJson<{ live: { in_flight: number } }>(`/api/autocall/campaigns/${campaign.id}`, {
			method: "PATCH",
			token: account.token,
			body: { max_concurrent_calls: 2 },
		});
		expect(lowered.status).toBe(200);
		expect(lowered.body.live.in_flight).toBe(5);
		// Ending three leaves two in flight: nothing new may start yet.
		for (const placed of dialled.slice(0, 3)) await pacer.callEnded(campaign.id, placed.callId, "completed");
		expect(dialled).toHaveLength(5);
		await pacer.callEnded(campaign.id, dialled[3]?.callId ?? "", "completed");
		expect(dialled).toHaveLength(6);
		const raised = await callJson<{ live: { in_flight: number } }>(`/api/autocall/campaigns/${campaign.id}`, {
			method: "PATCH",
			token: account.token,
			headers: { "If-Match": '"v1"' },
			body: { max_concurrent_calls: 4 },
		});
		expect(raised.status).toBe(412);
		expect(lowered.response.headers.get("ETag")).not.toBe('"v1"');
		const fresh = await call(`/api/autocall/campaigns/${campaign.id}`, { token: account.token });
		const ok = await callJson<{ live: { in_flight: number } }>(`/api/autocall/campaigns/${campaign.id}`, {
			method: "PATCH",
			token: account.token,
			headers: { "If-Match": fresh.headers.get("ETag") ?? "" },
			body: { max_concurrent_calls: 4 },
		});
		expect(ok.status).toBe(200);
		expect(ok.body.live.in_flight).toBe(4);
	});

	it("a freed slot is refilled at once, not at the next tick", async () => {
		const { campaign, dialled, pacer } = await running({ max_concurrent_calls: 1 });
		expect(dialled).toHaveLength(1);
		await pacer.callEnded(campaign.id, dialled[0]?.callId ?? "", "completed");
		expect(dialled).toHaveLength(2);
	});

	it("a dial the provider refuses for good (4xx) ends as failed with its reason and frees its slot for the next contact", async () => {
		const account = await pbxAccount();
		const campaign = await createCampaign(account, { contacts: phones(3), max_concurrent_calls: 1 });
		await runInDurableObject(pacerOf(campaign.id), (pacer: CampaignPacer) => {
			pacer.clock = () => MONDAY_NOON_NY;
			pacer.dialer = { place: async () => ({ kind: "permanent", reason: "HTTP 400: Invalid number" }) };
		});
		const view = await pacerOf(campaign.id).wake(campaign.id);
		const log = await pacerOf(campaign.id).callLog();
		expect(log.map((c) => c.outcome)).toEqual(["failed", "failed", "failed"]);
		expect(view.status).toBe("completed");
		const calls = await callJson<{ data: { status: string; failure_reason: string }[] }>(
			`/api/autocall/campaigns/${campaign.id}/calls`,
			{ token: account.token },
		);
		expect(calls.body.data.map((c) => [c.status, c.failure_reason])).toEqual(
			Array.from({ length: 3 }, () => ["failed", "HTTP 400: Invalid number"]),
		);
		expect(await countRows("events", "account_id = ? AND type = 'call.completed'", account.id)).toBe(3);
	});

	it("a call with no final status after its maximum duration ends as timeout and frees its slot", async () => {
		const { campaign, clock, dialled, pacer } = await running({ max_concurrent_calls: 1 });
		clock.now += 900_000;
		await runDurableObjectAlarm(pacer);
		const log = await pacer.callLog();
		expect(log[0]?.outcome).toBe("timeout");
		expect(dialled).toHaveLength(2);
		expect(await countRows("calls", "id = ? AND status = 'timeout'", log[0]?.id)).toBe(1);
		expect(campaign.id).toBeTruthy();
	});
});

describe("dialer callbacks", () => {
	const signed = async (body: unknown, secret = env.DIALER_SECRET ?? "") => {
		const text = JSON.stringify(body);
		return call("/api/webhooks/dialer", {
			method: "POST",
			rawBody: text,
			headers: { "Content-Type": "application/json", "X-Callgate-Signature": await signProviderPayload(secret, text) },
		});
	};

	it("verifies signatures, dedupes by event id and never moves a call backwards", async () => {
		const { campaign, dialled, pacer } = await running({ max_concurrent_calls: 1 });
		const callId = dialled[0]?.callId ?? "";
		const at = new Date().toISOString();
		expect(
			(await signed({ event_id: "e1", call_id: callId, status: "in_progress", occurred_at: at }, "wrong secret")).status,
		).toBe(401);
		const unsigned = await call("/api/webhooks/dialer", {
			body: { event_id: "e1", call_id: callId, status: "completed", occurred_at: at },
		});
		expect(unsigned.status).toBe(401);

		const finalEvent = { event_id: `fin-${callId}`, call_id: callId, status: "no_answer", occurred_at: at };
		const results = await Promise.all(
			Array.from({ length: 10 }, () => signed(finalEvent).then((r) => r.json<{ result: string }>())),
		);
		expect(results.filter((r) => r.result === "applied")).toHaveLength(1);
		expect(results.filter((r) => r.result === "duplicate")).toHaveLength(9);
		// A late "in progress" after the final status changes nothing.
		const late = await signed({ event_id: `late-${callId}`, call_id: callId, status: "in_progress", occurred_at: at });
		expect(await late.json()).toEqual({ result: "stale" });
		expect(await countRows("calls", "id = ? AND status = 'no_answer'", callId)).toBe(1);
		// The slot was freed once: exactly one refill.
		expect(dialled).toHaveLength(2);
		expect((await pacer.callLog()).filter((c) => c.ended_at !== null)).toHaveLength(1);
		expect(campaign.id).toBeTruthy();
	});

	it("malformed callbacks are 4xx", async () => {
		expect((await signed({ event_id: "x", call_id: "not-a-uuid", status: "completed", occurred_at: "now" })).status).toBe(422);
	});
});

describe("the simulated dialer and the cron sweep", () => {
	it("a campaign created with the seed's payload, window open now, dials its contacts with the simulated dialer to completion", async () => {
		const account = await pbxAccount();
		const created = await createCampaign(
			account,
			{
				...DIALS_NOW,
				max_concurrent_calls: 2,
				contacts: ["0987000010", "0987000011", "0987000017", "0987000018", "0987000019"],
			},
			"/api/public/v1/batch-calls",
		);
		if (new Date().getUTCHours() === 23 && new Date().getUTCMinutes() === 59) return; // the one minute the window is shut
		expect(created.status).toBe("active");
		// The create reserved the first calls; its pacer's alarm, set for now, records and dials them.
		await runDurableObjectAlarm(pacerOf(created.id));
		const simulator = env.DIALER_SIMULATOR.get(env.DIALER_SIMULATOR.idFromName(`campaign:${created.id}`));
		const simulated = { now: Date.now() };
		await runInDurableObject(simulator, (sim: DialerSimulator) => {
			sim.clock = () => simulated.now;
		});
		for (let i = 0; i < 10; i++) {
			const view = await callJson<{ status: string }>(`/api/public/v1/batch-calls/${created.id}`, { token: account.token });
			if (view.body.status === "completed") break;
			simulated.now += 10_000;
			await runDurableObjectAlarm(simulator);
		}
		const done = await callJson<{ status: string; live: { contacts: { done: number } } }>(
			`/api/autocall/campaigns/${created.id}`,
			{ token: account.token },
		);
		expect(done.body.status).toBe("completed");
		expect(done.body.live.contacts.done).toBe(5);
		const calls = await callJson<{ data: { to_phone: string; status: string }[] }>(
			`/api/autocall/campaigns/${created.id}/calls`,
			{ token: account.token },
		);
		const outcome = Object.fromEntries(calls.body.data.map((c) => [c.to_phone.slice(-1), c.status]));
		expect(outcome).toEqual({ "0": "completed", "1": "completed", "7": "no_answer", "8": "busy", "9": "failed" });
		for (const type of ["campaign.activated", "campaign.completed"]) {
			expect(await countRows("events", "account_id = ? AND type = ?", account.id, type), type).toBe(1);
		}
		expect(await countRows("events", "account_id = ? AND type = 'call.completed'", account.id)).toBe(5);
	});

	it("the cron handler wakes due campaigns", async () => {
		const account = await pbxAccount();
		const campaign = await createCampaign(account, { contacts: phones(3) });
		// Make it look like its first wake never happened.
		await env.DB.prepare("UPDATE autocall_campaigns SET next_wake_at = NULL WHERE id = ?").bind(campaign.id).run();
		const clock = { now: MONDAY_NOON_NY };
		const { inject, dialled } = takeOver(campaign.id, clock);
		await inject();
		const controller = createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" });
		const ctx = createExecutionContext();
		await worker.scheduled(controller, env, ctx);
		await waitOnExecutionContext(ctx);
		expect(dialled).toHaveLength(3);
		const row = await env.DB.prepare("SELECT status, next_wake_at FROM autocall_campaigns WHERE id = ?")
			.bind(campaign.id)
			.first<{ status: string; next_wake_at: string }>();
		expect(row?.status).toBe("active");
		expect(row?.next_wake_at).not.toBeNull();
	});
});

describe("creating campaigns", () => {
	it("accepts the seed's payload as written (folder source, X-Idempotency-Key)", async () => {
		const account = await pbxAccount();
		const folder = await callJson<{ id: string }>("/api/public/v1/contact-folders", {
			token: account.token,
			body: { name: "March list" },
		});
		const imported = await callJson<{ created: number }>(`/api/autocall/contact-folders/${folder.body.id}/contacts/bulk-import`, {
			token: account.token,
			body: { contacts: [...phones(4), "0987000999", "bad"] },
		});
		expect(imported.body.created).toBe(5);
		const payload = { ...seedPayload({ contact_source: "folder", contact_folder_id: folder.body.id }), contacts: undefined };
		const key = { "X-Idempotency-Key": crypto.randomUUID() };
		const [a, b] = await Promise.all([
			callJson<{ id: string; live: { contacts: { total: number } } }>("/api/public/v1/batch-calls", {
				token: account.token,
				body: payload,
				headers: key,
			}),
			callJson<{ id: string; live: { contacts: { total: number } } }>("/api/public/v1/batch-calls", {
				token: account.token,
				body: payload,
				headers: key,
			}),
		]);
		const created = [a, b].find((r) => r.status === 201);
		expect(created?.body.live.contacts.total).toBe(5);
		expect([a.status, b.status].every((s) => s === 201 || s === 409)).toBe(true);
		expect(await countRows("autocall_campaigns", "account_id = ?", account.id)).toBe(1);
	});

	it.each([
		[{ timezone: "Mars/Olympus" }, "timezone"],
		[{ start_time: "25:00" }, "start_time"],
		[{ start_time: "17:00", end_time: "09:00" }, "end_time"],
		[{ working_days: [0, 8] }, "working_days.0"],
		[{ working_days: [1, 1] }, "working_days"],
		[{ max_concurrent_calls: 101 }, "max_concurrent_calls"],
		[{ max_retry_attempts: 4 }, "max_retry_attempts"],
		[{ schedule_type: "scheduled", scheduled_at: undefined }, "scheduled_at"],
		[{ contacts: ["0987000001", "12"] }, "contacts.1.phone"],
		[{ contact_source: "folder", contact_folder_id: crypto.randomUUID() }, "contact_folder_id"],
		[{ agent_id: "nope" }, "agent_id"],
	])("rejects %j with a 422 on %s and stores nothing", async (overrides, field) => {
		const account = await pbxAccount();
		const { status, body } = await callJson<{ errors: Record<string, string[]> }>("/api/autocall/campaigns", {
			token: account.token,
			body: seedPayload(overrides),
		});
		expect(status).toBe(422);
		expect(Object.keys(body.errors)).toContain(field);
		expect(await countRows("autocall_campaigns", "account_id = ?", account.id)).toBe(0);
	});

	it("defaults as documented: UTC, Monday–Friday, 10 concurrent", async () => {
		const account = await pbxAccount();
		const { body } = await callJson<Record<string, unknown>>("/api/autocall/campaigns", {
			token: account.token,
			body: {
				name: "Defaults",
				agent_id: crypto.randomUUID(),
				contact_source: "inline",
				contacts: ["0987000001"],
				schedule_type: "scheduled",
				scheduled_at: "2031-01-01T00:00:00Z",
			},
		});
		expect(body).toMatchObject({ timezone: "UTC", working_days: [1, 2, 3, 4, 5], max_concurrent_calls: 10, retry_failed: false });
	});

	it("other accounts' campaigns and folders are 404", async () => {
		const [owner, intruder] = await Promise.all([pbxAccount(), pbxAccount()]);
		const campaign = await createCampaign(owner);
		const folder = await callJson<{ id: string }>("/api/autocall/contact-folders", {
			token: owner.token,
			body: { name: "Mine" },
		});
		for (const [method, path] of [
			["GET", `/api/autocall/campaigns/${campaign.id}`],
			["PATCH", `/api/autocall/campaigns/${campaign.id}`],
			["POST", `/api/autocall/campaigns/${campaign.id}/pause`],
			["GET", `/api/public/v1/batch-calls/${campaign.id}/calls`],
			["GET", `/api/autocall/contact-folders/${folder.body.id}`],
			["POST", `/api/autocall/contact-folders/${folder.body.id}/contacts/bulk-import`],
		] as const) {
			const body =
				method === "PATCH"
					? { name: "x" }
					: method === "POST" && path.includes("bulk")
						? { contacts: ["0987000001"] }
						: undefined;
			expect((await call(path, { method, token: intruder.token, body })).status, `${method} ${path}`).toBe(404);
		}
	});
});
