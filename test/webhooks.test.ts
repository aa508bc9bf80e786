import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../workers/index";
import { signProviderPayload } from "../workers/lib/signatures";
import { DAY, MINUTE } from "../workers/lib/time";
import { MAX_ATTEMPTS, nextDelaySeconds, parseRetryAfter, totalScheduleSeconds } from "../workers/webhooks/backoff";
import { attemptDelivery, type DeliveryMessage } from "../workers/webhooks/delivery";
import { signWebhook, webhookHeaders } from "../workers/webhooks/signing";
import { burst, call, callJson, countRows, pbxAccount } from "./helpers";

const RECEIVER = "https://receiver.example/hooks";

interface Received {
	headers: Record<string, string>;
	body: string;
}

/** Plays the customer's receiver: answers with `statuses` in turn (then 200), recording what arrived. */
/**
 * Mocks the receiving endpoint. Answers come from `statuses` in arrival order, or, where deliveries
 * go several at a time and arrival order is not theirs to promise, from a function of the
 * delivery's webhook-id.
 */
function receiver(statuses: (number | Response)[] | ((webhookId: string) => number) = []) {
	const received: Received[] = [];
	const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
		const request = new Request(input, init);
		const webhookId = request.headers.get("webhook-id") ?? "";
		const next = typeof statuses === "function" ? statuses(webhookId) : (statuses.shift() ?? 200);
		received.push({ headers: Object.fromEntries(request.headers), body: await request.text() });
		return typeof next === "number" ? new Response(null, { status: next }) : next;
	});
	return { received, spy };
}

afterEach(() => {
	vi.restoreAllMocks();
});

async function endpoint(token: string, events = ["*"]) {
	const created = await callJson<{ id: string; secret: string }>("/api/webhooks/endpoints", {
		token,
		body: { url: RECEIVER, events },
	});
	expect(created.status).toBe(201);
	return created.body;
}

async function deliveriesOf(endpointId: string) {
	const { results } = await env.DB.prepare(
		"SELECT id, event_id, status, attempts FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY created_at",
	)
		.bind(endpointId)
		.all<{ id: string; event_id: string; status: string; attempts: number }>();
	return results;
}

async function sendSms(token: string) {
	const sms = await callJson<{ id: string }>("/api/integrations/sms", { token, body: { to: "0987654321", text: "Xin chào" } });
	expect(sms.status).toBe(201);
	return sms.body.id;
}

describe("Standard Webhooks signatures", () => {
	it("reproduce the specification's published test vector", async () => {
		expect(
			await signWebhook(
				"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				"msg_p5jXN8AQM9LWM0D4loKWxJek",
				1614265330,
				'{"test": 2432232314}',
			),
		).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	});

	it("verify with the reference standardwebhooks library, and fail when tampered", async () => {
		const secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
		const body = JSON.stringify({ id: "evt_1", type: "sms.sent" });
		const headers = await webhookHeaders(secret, "evt_1", body);
		expect(new Webhook(secret).verify(body, headers)).toEqual({ id: "evt_1", type: "sms.sent" });
		expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow();
		expect(() => new Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").verify(body, headers)).toThrow();
	});
});

describe("backoff", () => {
	it("grows exponentially with jitter, honours Retry-After, and spans about three days", () => {
		expect(nextDelaySeconds(1, 0.5)).toBe(5);
		expect(nextDelaySeconds(2, 0)).toBe(24);
		expect(nextDelaySeconds(2, 1)).toBe(36);
		expect(nextDelaySeconds(1, 0.5, 120)).toBe(120);
		expect(nextDelaySeconds(MAX_ATTEMPTS, 0.5)).toBeNull();
		expect(totalScheduleSeconds() / 86_400).toBeGreaterThan(3);
		expect(totalScheduleSeconds() / 86_400).toBeLessThan(3.5);
		expect(parseRetryAfter("120", 0)).toBe(120);
		expect(parseRetryAfter(new Date(60_000).toUTCString(), 0)).toBe(60);
		expect(parseRetryAfter("soon", 0)).toBeUndefined();
	});
});

describe("webhook endpoints", () => {
	it("shows the secret once, stores it sealed, lists without it, supports ETag, rotate and delete", async () => {
		const account = await pbxAccount();
		const created = await endpoint(account.token, ["sms.*", "call.completed"]);
		expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
		const stored = await env.DB.prepare("SELECT secret_ciphertext FROM webhook_endpoints WHERE id = ?")
			.bind(created.id)
			.first<{ secret_ciphertext: string }>();
		expect(stored?.secret_ciphertext).not.toContain(created.secret.slice(6));
		const got = await callJson<Record<string, unknown>>(`/api/webhooks/endpoints/${created.id}`, { token: account.token });
		expect(got.body).not.toHaveProperty("secret");
		expect(got.body).not.toHaveProperty("secret_ciphertext");
		const etag = got.response.headers.get("ETag") ?? "";
		const rotated = await callJson<{ secret: string }>(`/api/webhooks/endpoints/${created.id}/rotate-secret`, {
			method: "POST",
			token: account.token,
			headers: { "If-Match": etag },
		});
		expect(rotated.status).toBe(200);
		expect(rotated.body.secret).not.toBe(created.secret);
		expect(
			(
				await call(`/api/webhooks/endpoints/${created.id}`, {
					method: "PATCH",
					token: account.token,
					headers: { "If-Match": etag },
					body: { description: "x" },
				})
			).status,
		).toBe(412);
		const list = await callJson<{ data: Record<string, unknown>[] }>("/api/webhooks/endpoints", { token: account.token });
		expect(list.body.data).toHaveLength(1);
		expect(list.body.data[0]).not.toHaveProperty("secret");
		expect((await call(`/api/webhooks/endpoints/${created.id}`, { method: "DELETE", token: account.token })).status).toBe(204);
	});

	it.each([
		[{ url: "http://receiver.example/hooks", events: ["*"] }, "url"],
		[{ url: "ftp://receiver.example", events: ["*"] }, "url"],
		[{ url: "https://user:pass@receiver.example", events: ["*"] }, "url"],
		[{ url: "not a url", events: ["*"] }, "url"],
		[{ url: RECEIVER, events: ["call.exploded"] }, "events.0"],
		[{ url: RECEIVER, events: ["nope.*"] }, "events.0"],
		[{ url: RECEIVER, events: [] }, "events"],
	])("rejects %j with a 422 on %s", async (body, field) => {
		const account = await pbxAccount();
		const { status, body: error } = await callJson<{ errors: Record<string, string[]> }>("/api/webhooks/endpoints", {
			token: account.token,
			body,
		});
		expect(status).toBe(422);
		expect(Object.keys(error.errors)).toContain(field);
		expect(await countRows("webhook_endpoints", "account_id = ?", account.id)).toBe(0);
	});

	it("accepts http://127.0.0.1 in development; refuses oversized bodies with 413", async () => {
		const account = await pbxAccount();
		expect(
			(
				await call("/api/webhooks/endpoints", {
					token: account.token,
					body: { url: "http://127.0.0.1:9999/hook", events: ["*"] },
				})
			).status,
		).toBe(201);
		const huge = await call("/api/webhooks/endpoints", {
			token: account.token,
			body: { url: RECEIVER, events: ["*"], description: "x".repeat(20_000) },
		});
		expect(huge.status).toBe(413);
	});

	it("other accounts' endpoints are 404", async () => {
		const [owner, intruder] = await Promise.all([pbxAccount(), pbxAccount()]);
		const created = await endpoint(owner.token);
		for (const [method, path] of [
			["GET", `/api/webhooks/endpoints/${created.id}`],
			["DELETE", `/api/webhooks/endpoints/${created.id}`],
			["POST", `/api/webhooks/endpoints/${created.id}/rotate-secret`],
			["GET", `/api/webhooks/endpoints/${created.id}/deliveries`],
		] as const) {
			expect((await call(path, { method, token: intruder.token })).status, `${method} ${path}`).toBe(404);
		}
	});
});

describe("webhook delivery", () => {
	it("events are recorded with their change and fan out to subscribed endpoints only", async () => {
		const account = await pbxAccount();
		const sms = await endpoint(account.token, ["sms.sent"]);
		const calls = await endpoint(account.token, ["call.*"]);
		const messageId = await sendSms(account.token);
		const deliveries = await deliveriesOf(sms.id);
		expect(deliveries.map((d) => d.event_id)).toContain(`evt_sms_sent_${messageId.replaceAll("-", "")}`);
		expect(await deliveriesOf(calls.id)).toHaveLength(0);
	});

	it("a receiver that fails at first gets the same webhook-id on every retry, and the event once it recovers", async () => {
		const account = await pbxAccount();
		const hook = await endpoint(account.token, ["sms.sent"]);
		await sendSms(account.token);
		const [delivery] = await deliveriesOf(hook.id);
		if (!delivery) throw new Error("no delivery");
		const { received } = receiver([500, new Response(null, { status: 503, headers: { "Retry-After": "600" } }), 200]);
		let now = Date.now();
		expect(await attemptDelivery(env, delivery.id, now, 0.5)).toEqual({ done: false, retryInSeconds: 5 });
		// Not due yet: a copy of the message that comes early does not attempt.
		expect(await attemptDelivery(env, delivery.id, now + 1_000, 0.5)).toEqual({ done: false, retryInSeconds: 4 });
		now += 5_000;
		expect(await attemptDelivery(env, delivery.id, now, 0.5)).toEqual({ done: false, retryInSeconds: 600 });
		now += 600_000;
		expect(await attemptDelivery(env, delivery.id, now, 0.5)).toEqual({ done: true });
		expect(received).toHaveLength(3);
		expect(new Set(received.map((r) => r.headers["webhook-id"]))).toEqual(new Set([delivery.event_id]));
		// Each attempt is signed afresh (its own timestamp); the first is checked by the reference library now.
		expect(() => new Webhook(hook.secret).verify(received[0]?.body ?? "", received[0]?.headers ?? {})).not.toThrow();
		for (const attempt of received) {
			const timestamp = Number(attempt.headers["webhook-timestamp"]);
			expect(attempt.headers["webhook-signature"]).toBe(
				await signWebhook(hook.secret, delivery.event_id, timestamp, attempt.body),
			);
		}
		const log = await callJson<{ data: { status: string; attempts: { status_code: number; latency_ms: number }[] }[] }>(
			`/api/webhooks/endpoints/${hook.id}/deliveries`,
			{
				token: account.token,
			},
		);
		expect(log.body.data[0]?.status).toBe("delivered");
		expect(log.body.data[0]?.attempts.map((a) => a.status_code)).toEqual([500, 503, 200]);
		expect(log.body.data[0]?.attempts.every((a) => a.latency_ms >= 0)).toBe(true);
	});

	it("a receiver that never recovers: dead-letter queue after about three days, endpoint disabled", async () => {
		const account = await pbxAccount();
		const hook = await endpoint(account.token, ["sms.sent"]);
		await sendSms(account.token);
		const [delivery] = await deliveriesOf(hook.id);
		if (!delivery) throw new Error("no delivery");
		const { received } = receiver(Array.from({ length: MAX_ATTEMPTS }, () => 500));
		const dlq = vi.spyOn(env.WEBHOOK_DLQ, "send");
		let now = Date.now();
		let verdict = await attemptDelivery(env, delivery.id, now, 0.5);
		while (!verdict.done) {
			now += 12 * 60 * MINUTE;
			verdict = await attemptDelivery(env, delivery.id, now, 0.5);
		}
		expect(received).toHaveLength(MAX_ATTEMPTS);
		expect(dlq).toHaveBeenCalledWith(expect.objectContaining({ delivery_id: delivery.id, attempts: MAX_ATTEMPTS }));
		const state = await env.DB.prepare("SELECT status FROM webhook_deliveries WHERE id = ?")
			.bind(delivery.id)
			.first<{ status: string }>();
		expect(state?.status).toBe("dead");
		const after = await callJson<{ enabled: boolean; disabled_reason: string }>(`/api/webhooks/endpoints/${hook.id}`, {
			token: account.token,
		});
		expect(after.body.enabled).toBe(false);
		expect(after.body.disabled_reason).toMatch(/3 days/);
		expect(now - Date.now()).toBeGreaterThan(3 * DAY);
		// A disabled endpoint gets no new deliveries.
		await sendSms(account.token);
		expect(await deliveriesOf(hook.id)).toHaveLength(1);
	});

	it("410 Gone disables the endpoint at once", async () => {
		const account = await pbxAccount();
		const hook = await endpoint(account.token, ["sms.sent"]);
		await sendSms(account.token);
		const [delivery] = await deliveriesOf(hook.id);
		receiver([410]);
		expect(await attemptDelivery(env, delivery?.id ?? "", Date.now())).toEqual({ done: true });
		const after = await callJson<{ enabled: boolean }>(`/api/webhooks/endpoints/${hook.id}`, { token: account.token });
		expect(after.body.enabled).toBe(false);
	});

	it("the queue consumer acks deliveries and retries failures with a delay; long waits hop in 12 h steps", async () => {
		const account = await pbxAccount();
		const hook = await endpoint(account.token, ["sms.sent"]);
		await sendSms(account.token);
		await sendSms(account.token);
		const [ok, failing] = await deliveriesOf(hook.id);
		receiver((webhookId) => (webhookId === failing?.event_id ? 500 : 200));
		const batch = createMessageBatch<DeliveryMessage>("callgate-webhooks", [
			{ id: "m1", timestamp: new Date(), attempts: 1, body: { delivery_id: ok?.id ?? "" } },
			{ id: "m2", timestamp: new Date(), attempts: 1, body: { delivery_id: failing?.id ?? "" } },
		]);
		const ctx = createExecutionContext();
		await worker.queue(batch, env, ctx);
		const result = await getQueueResult(batch, ctx);
		expect(result.explicitAcks).toEqual(["m1"]);
		expect(result.retryMessages).toEqual([{ msgId: "m2" }]);

		// A wait longer than Queues' 12 h maximum comes back early and hops again, without an attempt.
		const attemptsBefore = await countRows("webhook_attempts", "delivery_id = ?", failing?.id);
		await env.DB.prepare("UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?")
			.bind(new Date(Date.now() + 20 * 3_600_000).toISOString(), failing?.id)
			.run();
		expect(await attemptDelivery(env, failing?.id ?? "")).toEqual({ done: false, retryInSeconds: 43_200 });
		const hop = createMessageBatch<DeliveryMessage>("callgate-webhooks", [
			{ id: "m3", timestamp: new Date(), attempts: 2, body: { delivery_id: failing?.id ?? "" } },
		]);
		const hopCtx = createExecutionContext();
		await worker.queue(hop, env, hopCtx);
		expect((await getQueueResult(hop, hopCtx)).retryMessages).toEqual([{ msgId: "m3" }]);
		expect(await countRows("webhook_attempts", "delivery_id = ?", failing?.id)).toBe(attemptsBefore);
	});

	it("re-sends one event to an endpoint with the same webhook-id", async () => {
		const account = await pbxAccount();
		const hook = await endpoint(account.token, ["sms.sent"]);
		await sendSms(account.token);
		const [first] = await deliveriesOf(hook.id);
		const resent = await callJson<{ id: string; event_id: string }>(
			`/api/webhooks/endpoints/${hook.id}/events/${first?.event_id}/resend`,
			{ method: "POST", token: account.token },
		);
		expect(resent.status).toBe(202);
		expect(resent.body.event_id).toBe(first?.event_id);
		const { received } = receiver([200]);
		expect(await attemptDelivery(env, resent.body.id)).toEqual({ done: true });
		expect(received[0]?.headers["webhook-id"]).toBe(first?.event_id);
	});

	it("campaign events reach webhooks too", async () => {
		const account = await pbxAccount();
		const hook = await endpoint(account.token, ["campaign.*"]);
		const created = await callJson<{ id: string }>("/api/autocall/campaigns", {
			token: account.token,
			body: {
				name: "Hooked",
				agent_id: crypto.randomUUID(),
				contact_source: "inline",
				contacts: ["0987000001"],
				schedule_type: "scheduled",
				scheduled_at: "2031-01-01T00:00:00Z",
			},
		});
		await call(`/api/autocall/campaigns/${created.body.id}/pause`, { method: "POST", token: account.token });
		const { results } = await env.DB.prepare(
			"SELECT e.type FROM webhook_deliveries d JOIN events e ON e.id = d.event_id WHERE d.endpoint_id = ?",
		)
			.bind(hook.id)
			.all<{ type: string }>();
		expect(results.map((r) => r.type)).toContain("campaign.paused");
	});
});

describe("SMS", () => {
	it("100 concurrent keyed requests send one SMS", async () => {
		const account = await pbxAccount();
		const key = { "Idempotency-Key": crypto.randomUUID() };
		const responses = await burst(100, () =>
			call("/api/integrations/sms", { token: account.token, body: { to: "0987654321", text: "One only" }, headers: key }),
		);
		expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
		expect(responses.every((r) => r.status === 201 || r.status === 409)).toBe(true);
		expect(await countRows("sms_messages", "account_id = ?", account.id)).toBe(1);
		expect(await countRows("events", "account_id = ? AND type = 'sms.sent'", account.id)).toBe(1);
	});

	it("validates numbers and text; counts segments", async () => {
		const account = await pbxAccount();
		expect((await callJson("/api/integrations/sms", { token: account.token, body: { to: "123", text: "x" } })).status).toBe(422);
		expect((await callJson("/api/integrations/sms", { token: account.token, body: { to: "0987654321", text: "" } })).status).toBe(
			422,
		);
		expect(
			(await callJson("/api/integrations/sms", { token: account.token, body: { to: "0987654321", text: "x".repeat(1601) } }))
				.status,
		).toBe(422);
		const long = await callJson<{ segments: number; to: string }>("/api/integrations/sms", {
			token: account.token,
			body: { to: "0987654321", text: "a".repeat(161) },
		});
		expect(long.body).toMatchObject({ segments: 2, to: "+84987654321" });
		const unicode = await callJson<{ segments: number }>("/api/integrations/sms", {
			token: account.token,
			body: { to: "0987654321", text: "Xin chào bạn" },
		});
		expect(unicode.body.segments).toBe(1);
	});

	it("a duplicate or unsigned delivery report changes nothing", async () => {
		const account = await pbxAccount();
		const created = await callJson<{ id: string }>("/api/integrations/sms", {
			token: account.token,
			body: { to: "0987654321", text: "Report me" },
		});
		const report = JSON.stringify({
			event_id: "rpt-1",
			message_id: created.body.id,
			status: "failed",
			occurred_at: new Date().toISOString(),
		});
		const post = async (secret: string) =>
			callJson<{ result: string }>("/api/webhooks/sms", {
				method: "POST",
				rawBody: report,
				headers: { "Content-Type": "application/json", "X-Callgate-Signature": await signProviderPayload(secret, report) },
			});
		expect((await post("wrong")).status).toBe(401);
		// The simulated provider reported "delivered" already: a late "failed" is stale, a repeat is a duplicate.
		const first = await post(env.SMS_SECRET ?? "");
		expect(["stale", "applied"]).toContain(first.body.result);
		expect((await post(env.SMS_SECRET ?? "")).body.result).toBe("duplicate");
		expect(await countRows("events", "account_id = ? AND type LIKE 'sms.%'", account.id)).toBeLessThanOrEqual(2);
	});
});
