import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { telnyxSmsSender } from "../workers/carriers/telnyx/sms";
import { dialTimeLimitSeconds, telnyxDialer, transferTimeLimitSeconds } from "../workers/carriers/telnyx/voice";
import type { OutboundCall } from "../workers/dialer/dialer";
import { newAccount } from "./helpers";
import { API_KEY, CONNECTION_ID, TelnyxStandin, WEBHOOK_URL } from "./support/carriers/telnyx-standin";

let standin: TelnyxStandin;
beforeEach(() => {
	standin = new TelnyxStandin();
	vi.spyOn(globalThis, "fetch").mockImplementation(standin.fetch);
});
afterEach(() => vi.restoreAllMocks());

const CALLER_ID = "+842812345678";
const outbound = (overrides: Partial<OutboundCall> = {}): OutboundCall => ({
	callId: crypto.randomUUID(),
	accountId: crypto.randomUUID(),
	campaignId: crypto.randomUUID(),
	to: "+84920000001",
	callerId: CALLER_ID,
	agentId: "1f4baf16-1540-4d91-9696-7f34b2f2cb77",
	agentLeg: null,
	machineDetection: false,
	firstAskedAt: null,
	...overrides,
});
const dialer = () => telnyxDialer(env);

describe("the Telnyx dialer's requests", () => {
	it("a campaign call: one POST /v2/calls, Bearer API key, JSON, every parameter and nothing else", async () => {
		const call = outbound();
		const result = await dialer().place(call);
		expect(standin.requests).toHaveLength(1);
		const [request] = standin.requests;
		expect(request).toMatchObject({
			method: "POST",
			path: "/v2/calls",
			authorization: `Bearer ${API_KEY}`,
			contentType: "application/json",
		});
		expect(request?.body).toEqual({
			connection_id: CONNECTION_ID,
			to: "+84920000001",
			from: CALLER_ID,
			webhook_url: WEBHOOK_URL,
			webhook_url_method: "POST",
			client_state: btoa(call.callId),
			command_id: call.callId,
			timeout_secs: 30,
			time_limit_secs: 840,
		});
		const leg = [...standin.legs.values()][0];
		expect(result).toEqual({ kind: "accepted", providerCallId: leg?.callControlId });
	});

	it("with machine detection: answering_machine_detection=detect, and the leg is tagged so the route waits for the result", async () => {
		const call = outbound({ machineDetection: true });
		await dialer().place(call);
		expect(standin.requests[0]?.body).toEqual({
			connection_id: CONNECTION_ID,
			to: "+84920000001",
			from: CALLER_ID,
			webhook_url: WEBHOOK_URL,
			webhook_url_method: "POST",
			client_state: btoa(`${call.callId};amd`),
			command_id: call.callId,
			timeout_secs: 30,
			time_limit_secs: 840,
			answering_machine_detection: "detect",
		});
	});

	it("a click-to-call rings the agent leg (a SIP URI or a number) first, from the caller id; the customer is not dialled", async () => {
		for (const agentLeg of ["sip:1001@agents.sip.telnyx.com", "+84900000001"]) {
			const call = outbound({ campaignId: null, agentId: null, agentLeg, to: "+84920000005" });
			await dialer().place(call);
			expect(standin.requests.at(-1)?.body).toEqual({
				connection_id: CONNECTION_ID,
				to: agentLeg,
				from: CALLER_ID,
				webhook_url: WEBHOOK_URL,
				webhook_url_method: "POST",
				client_state: btoa(`${call.callId};agent`),
				command_id: call.callId,
				timeout_secs: 30,
				time_limit_secs: 840,
			});
		}
		expect(standin.rang).toEqual(["sip:1001@agents.sip.telnyx.com", "+84900000001"]);
	});

	it("every dial asks Telnyx to end the call before callgate's MAX_CALL_SECONDS deadline: time_limit_secs = max(60, MAX_CALL_SECONDS − 30 s ring − 30 s)", async () => {
		const limits: Record<string, unknown> = {};
		for (const max of ["900", "3600", "100", ""]) {
			await telnyxDialer({ ...env, MAX_CALL_SECONDS: max }).place(outbound());
			limits[max] = standin.requests.at(-1)?.body?.time_limit_secs;
		}
		// Unset: the default 900 s. Never under a minute, however small MAX_CALL_SECONDS is.
		expect(limits).toEqual({ "900": 840, "3600": 3540, "100": 60, "": 840 });
		// The leg a transfer creates rings only after the first leg answered: one more ring off.
		expect(transferTimeLimitSeconds(env)).toBe(810);
		expect(transferTimeLimitSeconds({ ...env, MAX_CALL_SECONDS: "3600" })).toBe(3510);
		expect(transferTimeLimitSeconds({ ...env, MAX_CALL_SECONDS: "60" })).toBe(60);
		expect(dialTimeLimitSeconds({ ...env, MAX_CALL_SECONDS: "86400" })).toBe(14_400);
	});

	it("an SMS: one POST /v2/messages with from, to, text and a webhook_url naming the message", async () => {
		const messageId = crypto.randomUUID();
		const result = await telnyxSmsSender(env).send({
			messageId,
			accountId: crypto.randomUUID(),
			to: "+84920000001",
			from: CALLER_ID,
			text: "Your appointment is at 10:00.",
			firstAskedAt: null,
		});
		expect(standin.requests).toHaveLength(1);
		expect(standin.requests[0]).toMatchObject({
			method: "POST",
			path: "/v2/messages",
			authorization: `Bearer ${API_KEY}`,
			contentType: "application/json",
			body: {
				from: CALLER_ID,
				to: "+84920000001",
				text: "Your appointment is at 10:00.",
				webhook_url: `${WEBHOOK_URL}?message_id=${messageId}`,
			},
		});
		expect(Object.keys(standin.requests[0]?.body ?? {}).sort()).toEqual(["from", "text", "to", "webhook_url"]);
		expect(result).toEqual({ kind: "accepted", providerMessageId: [...standin.messages.keys()][0] });
	});

	it("no caller id is a permanent refusal before anything is sent", async () => {
		expect(await dialer().place(outbound({ callerId: null }))).toMatchObject({ kind: "permanent" });
		expect(
			await telnyxSmsSender(env).send({
				messageId: crypto.randomUUID(),
				accountId: "a",
				to: "+84920000001",
				from: null,
				text: "x",
				firstAskedAt: null,
			}),
		).toMatchObject({ kind: "permanent" });
		expect(standin.requests).toHaveLength(0);
	});
});

describe("the Telnyx adapters classify every answer by the failure rules", () => {
	it("2xx accepted; 408, 429 and 503 (and 401/403) transient with Retry-After; a documented 4xx permanent with Telnyx's code and text; network errors and timeouts transient and uncertain", async () => {
		standin.faults.push(
			{ status: 408 },
			{ status: 429, retryAfter: "7", body: { errors: [{ code: "10011", title: "Too many requests" }] } },
			{ status: 503, retryAfter: "120" },
			{ status: 500 },
			"network",
			"timeout",
			{
				status: 422,
				body: {
					errors: [
						{
							code: "10016",
							title: "Phone number must be in +E164 format",
							detail: "The 'to' parameter must be in E164 format.",
							source: { pointer: "/to" },
						},
					],
				},
			},
			{ status: 401, body: { errors: [{ code: "10009", title: "Authentication failed" }] } },
		);
		const results = [];
		for (let i = 0; i < 8; i++) results.push(await dialer().place(outbound()));
		expect(results).toEqual([
			{ kind: "transient", reason: "Telnyx 10007: Unexpected error" },
			{ kind: "transient", reason: "Telnyx 10011: Too many requests", retryAfterMs: 7000 },
			{ kind: "transient", reason: "Telnyx 10007: Unexpected error", retryAfterMs: 120_000 },
			{ kind: "transient", reason: "Telnyx 10007: Unexpected error" },
			{ kind: "transient", reason: "The provider could not be reached.", uncertain: true },
			{ kind: "transient", reason: "The provider did not answer in time.", uncertain: true },
			{
				kind: "permanent",
				reason: "Telnyx 10016: Phone number must be in +E164 format: The 'to' parameter must be in E164 format.",
			},
			// A rejected API key is a settings problem, not the number's: it waits like an outage.
			{ kind: "transient", reason: "Telnyx 10009: Authentication failed" },
		]);
		// The stand-in's own validation answers like Telnyx: a number it refuses, a wrong key.
		standin.refuse.add("+84920000003");
		expect(await dialer().place(outbound({ to: "+84920000003" }))).toMatchObject({
			kind: "permanent",
			reason: "Telnyx 10016: Phone number must be in +E164 format: The 'to' parameter must be in E164 format.",
		});
		expect(await telnyxDialer({ ...env, TELNYX_API_KEY: "wrong" }).place(outbound())).toEqual({
			kind: "transient",
			reason: "Telnyx 10009: Authentication failed: Could not understand the provided credentials.",
		});
		// A page that is not Telnyx's JSON still classifies, by status.
		vi.spyOn(globalThis, "fetch").mockResolvedValueOnce(new Response("<html>bad gateway</html>", { status: 502 }));
		expect(await dialer().place(outbound())).toEqual({ kind: "transient", reason: "Telnyx HTTP 502" });
		expect(standin.rang).toHaveLength(0);
	});

	it("every request carries a timeout signal (10 s)", async () => {
		const signals: (AbortSignal | null | undefined)[] = [];
		vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
			signals.push(init?.signal);
			return standin.fetch(input, init);
		});
		await dialer().place(outbound());
		await telnyxSmsSender(env).send({
			messageId: crypto.randomUUID(),
			accountId: "a",
			to: "+84920000001",
			from: CALLER_ID,
			text: "x",
			firstAskedAt: null,
		});
		expect(signals).toHaveLength(2);
		for (const signal of signals) expect(signal).toBeInstanceOf(AbortSignal);
	});

	it("SMS refusals classify the same way", async () => {
		const sms = (to: string) =>
			telnyxSmsSender(env).send({
				messageId: crypto.randomUUID(),
				accountId: "a",
				to,
				from: CALLER_ID,
				text: "x",
				firstAskedAt: null,
			});
		standin.faults.push({ status: 429, retryAfter: "3" }, "network");
		expect(await sms("+84920000001")).toEqual({
			kind: "transient",
			reason: "Telnyx 10007: Unexpected error",
			retryAfterMs: 3000,
		});
		expect(await sms("+84920000001")).toEqual({
			kind: "transient",
			reason: "The provider could not be reached.",
			uncertain: true,
		});
		expect(await sms("0920000001")).toEqual({
			kind: "permanent",
			reason: "Telnyx 40310: Invalid 'to' address: The 'to' address should be in E.164 format.",
		});
	});
});

describe("asking again (firstAskedAt): a call Telnyx already has is not dialled again", () => {
	it("found among the connection's active calls by its client_state: accepted with that leg, nothing dialled", async () => {
		const call = outbound({ to: "+84920000002" });
		standin.hold = true;
		// The first request reached Telnyx, but its answer was lost.
		await dialer().place(call);
		const first = [...standin.legs.values()][0];
		// Others' calls on the same connection, more than a page of them.
		for (let i = 0; i < 300; i++) {
			const other = outbound({ to: `+8493${String(i).padStart(7, "0")}` });
			await dialer().place(other);
		}
		standin.requests.length = 0;
		standin.rang.length = 0;
		// Ours listed last: the look-up reads every page.
		const ours = standin.legs.get(first?.callControlId ?? "");
		if (ours) {
			standin.legs.delete(ours.callControlId);
			standin.legs.set(ours.callControlId, ours);
		}
		const again = await dialer().place({ ...call, firstAskedAt: Date.now() - 30_000 });
		expect(again).toEqual({ kind: "accepted", providerCallId: first?.callControlId });
		expect(standin.requests.map((r) => `${r.method} ${r.path} ${r.query["page[after]"] ?? ""}`)).toEqual([
			`GET /v2/connections/${CONNECTION_ID}/active_calls `,
			`GET /v2/connections/${CONNECTION_ID}/active_calls 250`,
		]);
		expect(standin.requests.every((r) => r.authorization === `Bearer ${API_KEY}` && r.query["page[size]"] === "250")).toBe(true);
		expect(standin.rang).toEqual([]);
	});

	it("a call that already ended is seen in callgate's own record (its webhooks arrived): not dialled again", async () => {
		const account = await newAccount();
		const call = outbound({ accountId: account.id, campaignId: null });
		await env.DB.prepare(
			"INSERT INTO calls (id, account_id, kind, to_phone, status, provider_call_id, created_at, updated_at) VALUES (?, ?, 'click_to_call', ?, 'completed', 'v3:ended', ?, ?)",
		)
			.bind(call.callId, account.id, call.to, new Date().toISOString(), new Date().toISOString())
			.run();
		expect(await dialer().place({ ...call, firstAskedAt: Date.now() - 600_000 })).toEqual({
			kind: "accepted",
			providerCallId: "v3:ended",
		});
		expect(standin.requests).toHaveLength(0);
	});

	it("nothing found: dialled, with the same command_id; a look-up that fails dials nothing", async () => {
		const call = outbound({ to: "+84920000004" });
		standin.faults.push({ status: 503, retryAfter: "5" });
		expect(await dialer().place({ ...call, firstAskedAt: Date.now() })).toEqual({
			kind: "transient",
			reason: "Looking for an earlier dial: Telnyx 10007: Unexpected error",
		});
		standin.faults.push("network");
		expect(await dialer().place({ ...call, firstAskedAt: Date.now() })).toMatchObject({ kind: "transient" });
		expect(standin.rang).toEqual([]);
		const result = await dialer().place({ ...call, firstAskedAt: Date.now() });
		expect(result.kind).toBe("accepted");
		expect(standin.to("/v2/calls").map((r) => r.body?.command_id)).toEqual([call.callId]);
		expect(standin.rang).toEqual(["+84920000004"]);
	});

	it("an SMS whose id callgate stored, or that Telnyx reported on, is not sent again", async () => {
		const account = await newAccount();
		const now = new Date().toISOString();
		const stored = crypto.randomUUID();
		const reported = crypto.randomUUID();
		for (const [id, status, provider] of [
			[stored, "queued", "40318-stored"],
			[reported, "sent", null],
		] as const) {
			await env.DB.prepare(
				"INSERT INTO sms_messages (id, account_id, to_phone, sender, text, segments, status, created_at, updated_at, provider_message_id) VALUES (?, ?, '+84920000001', ?, 'x', 1, ?, ?, ?, ?)",
			)
				.bind(id, account.id, CALLER_ID, status, now, now, provider)
				.run();
		}
		const send = (messageId: string) =>
			telnyxSmsSender(env).send({
				messageId,
				accountId: account.id,
				to: "+84920000001",
				from: CALLER_ID,
				text: "x",
				firstAskedAt: Date.now(),
			});
		expect(await send(stored)).toEqual({ kind: "accepted", providerMessageId: "40318-stored" });
		expect(await send(reported)).toEqual({ kind: "accepted" });
		expect(standin.requests).toHaveLength(0);
	});
});
