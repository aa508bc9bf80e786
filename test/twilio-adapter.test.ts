import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { twilioSmsSender } from "../workers/carriers/twilio/sms";
import { twilioDialer } from "../workers/carriers/twilio/voice";
import type { OutboundSms } from "../workers/sms/sender";
import { newAccount } from "./helpers";
import { TwilioStandin } from "./support/carriers/twilio-standin";
import { outboundCall } from "./support/outbound-call";

const SID = "AC00000000000000000000000000000001";
const TOKEN = "test-twilio-auth-token";
const CALLS_PATH = `/2010-04-01/Accounts/${SID}/Calls.json`;
const MESSAGES_PATH = `/2010-04-01/Accounts/${SID}/Messages.json`;
const OVERRIDES = "#rc=3&rp=ct,rt,5xx";

let standin: TwilioStandin;
const realFetch = globalThis.fetch;

beforeEach(() => {
	standin = new TwilioStandin(SID, TOKEN);
	vi.spyOn(globalThis, "fetch").mockImplementation(standin.fetchFor(realFetch));
});
afterEach(() => vi.restoreAllMocks());

const dialer = () => twilioDialer(env);
const campaignCall = (overrides = {}) =>
	outboundCall({
		campaignId: crypto.randomUUID(),
		to: "+84920000001",
		callerId: "+15005550006",
		agentId: "1f4baf16-1540-4d91-9696-7f34b2f2cb77",
		...overrides,
	});

describe("Twilio Create Call requests", () => {
	it("a campaign call: POST Calls.json, basic auth, form-encoded, every parameter", async () => {
		const call = campaignCall();
		const result = await dialer().place(call);
		const [request] = standin.requests;
		expect(standin.requests).toHaveLength(1);
		expect(request?.method).toBe("POST");
		expect(request?.url.origin).toBe("https://twilio.standin");
		expect(request?.path).toBe(CALLS_PATH);
		expect(request?.headers.get("Authorization")).toBe(`Basic ${btoa(`${SID}:${TOKEN}`)}`);
		expect(request?.headers.get("Content-Type")).toBe("application/x-www-form-urlencoded");
		expect(request?.params).toEqual([
			["To", "+84920000001"],
			["From", "+15005550006"],
			["Url", `https://callgate.test/api/webhooks/twilio/answer?call_id=${call.callId}${OVERRIDES}`],
			["Method", "POST"],
			["StatusCallback", `https://callgate.test/api/webhooks/twilio/voice?call_id=${call.callId}${OVERRIDES}`],
			["StatusCallbackEvent", "initiated"],
			["StatusCallbackEvent", "ringing"],
			["StatusCallbackEvent", "answered"],
			["StatusCallbackEvent", "completed"],
			["StatusCallbackMethod", "POST"],
			["Timeout", "30"],
			// MAX_CALL_SECONDS (900) less the ring timeout (30) and a margin (30): Twilio ends the call first.
			["TimeLimit", "840"],
		]);
		const sid = [...standin.calls.keys()][0];
		expect(result).toEqual({ kind: "accepted", providerCallId: sid });
	});

	it("with machine detection: MachineDetection=Enable, synchronous (no AsyncAmd)", async () => {
		await dialer().place(campaignCall({ machineDetection: true }));
		const params = standin.requests[0]?.params ?? [];
		expect(params).toContainEqual(["MachineDetection", "Enable"]);
		expect(params.map(([name]) => name)).not.toContain("AsyncAmd");
		expect(params.at(-1)).toEqual(["MachineDetection", "Enable"]);
	});

	it("a click-to-call rings the agent's leg first, marked leg=agent, never with machine detection", async () => {
		const call = outboundCall({
			to: "+84920000002",
			callerId: "+15005550006",
			agentLeg: "sip:agent-1001@pbx.example.com",
			machineDetection: true,
		});
		const result = await dialer().place(call);
		expect(result.kind).toBe("accepted");
		const params = new URLSearchParams(standin.requests[0]?.params);
		expect(params.get("To")).toBe("sip:agent-1001@pbx.example.com");
		expect(params.get("From")).toBe("+15005550006");
		expect(params.get("Url")).toBe(
			`https://callgate.test/api/webhooks/twilio/answer?call_id=${call.callId}&leg=agent${OVERRIDES}`,
		);
		expect(params.get("StatusCallback")).toBe(
			`https://callgate.test/api/webhooks/twilio/voice?call_id=${call.callId}&leg=agent${OVERRIDES}`,
		);
		expect(params.getAll("StatusCallbackEvent")).toEqual(["initiated", "ringing", "answered", "completed"]);
		expect(params.has("MachineDetection")).toBe(false);
	});

	it("TimeLimit follows MAX_CALL_SECONDS less the ringing and a margin, never under Twilio's minute; the agent's leg has it too", async () => {
		const limitFor = async (maxCallSeconds: string | undefined, call = campaignCall()) => {
			const before = standin.requests.length;
			await twilioDialer({ ...env, MAX_CALL_SECONDS: maxCallSeconds as string }).place(call);
			return new URLSearchParams(standin.requests[before]?.params).get("TimeLimit");
		};
		expect(await limitFor("3600")).toBe("3540");
		expect(await limitFor(undefined)).toBe("840");
		expect(await limitFor("100")).toBe("60");
		expect(await limitFor("900", outboundCall({ callerId: "+15005550006", agentLeg: "sip:agent-1001@pbx.example.com" }))).toBe(
			"840",
		);
	});

	it("refuses a call with no caller id without asking Twilio", async () => {
		expect(await dialer().place(campaignCall({ callerId: null }))).toMatchObject({ kind: "permanent" });
		expect(standin.requests).toHaveLength(0);
	});
});

describe("Twilio answers, classified for the failure rules", () => {
	it("408, 429 with Retry-After, 5xx: transient, keeping Retry-After", async () => {
		standin.faults.push(
			{ kind: "status", status: 408, code: 20408, message: "Request Timeout" },
			{ kind: "status", status: 429, retryAfter: "7" },
			{ kind: "status", status: 503, retryAfter: "120" },
			{ kind: "status", status: 500 },
		);
		expect(await dialer().place(campaignCall())).toEqual({ kind: "transient", reason: "Twilio 20408: Request Timeout" });
		expect(await dialer().place(campaignCall())).toEqual({
			kind: "transient",
			reason: "Twilio 20429: Too Many Requests",
			retryAfterMs: 7_000,
		});
		expect(await dialer().place(campaignCall())).toEqual({
			kind: "transient",
			reason: "Twilio 20500: Service Unavailable",
			retryAfterMs: 120_000,
		});
		expect(await dialer().place(campaignCall())).toMatchObject({
			kind: "transient",
			reason: "Twilio 20500: Service Unavailable",
		});
		expect(standin.calls.size).toBe(0);
	});

	it("another 4xx is permanent, with Twilio's code and message", async () => {
		standin.refused.add("+84920000009");
		expect(await dialer().place(campaignCall({ to: "+84920000009" }))).toEqual({
			kind: "permanent",
			reason: "Twilio 21211: The 'To' number +84920000009 is not a valid phone number.",
		});
	});

	it("bad credentials (401), a forbidden account (403), an unknown account (404) are transient: they say nothing of the number", async () => {
		const result = await twilioDialer({ ...env, TWILIO_AUTH_TOKEN: "wrong" }).place(campaignCall());
		expect(result).toMatchObject({ kind: "transient" });
		expect(result.kind === "transient" && result.reason).toContain("Twilio 20003: Authenticate");
		standin.faults.push({ kind: "status", status: 403, code: 20403, message: "Forbidden" });
		expect(await dialer().place(campaignCall())).toMatchObject({ kind: "transient" });
		const unknown = await twilioDialer({ ...env, TWILIO_ACCOUNT_SID: "AC00000000000000000000000000000404" }).place(
			campaignCall(),
		);
		expect(unknown).toMatchObject({ kind: "transient" });
		expect(unknown.kind === "transient" && unknown.reason).toContain("Twilio 20003");
		expect(standin.calls.size).toBe(0);
	});

	it("21210 / 21212 (the From caller id is not verified or not valid on the Twilio account) are transient, with the reason", async () => {
		standin.faults.push(
			{
				kind: "status",
				status: 400,
				code: 21210,
				message: "The source phone number provided, +15005550006, is not yet verified for your account.",
			},
			{ kind: "status", status: 400, code: 21212, message: "Invalid From Number (caller ID): +15005550006" },
		);
		const unverified = await dialer().place(campaignCall());
		expect(unverified).toMatchObject({ kind: "transient" });
		expect(unverified.kind === "transient" && unverified.reason).toMatch(
			/^Twilio 21210: The source phone number provided, \+15005550006, is not yet verified for your account\. \(the caller id is not usable/,
		);
		const invalid = await dialer().place(campaignCall());
		expect(invalid).toMatchObject({ kind: "transient" });
		expect(invalid.kind === "transient" && invalid.reason).toContain(
			"Twilio 21212: Invalid From Number (caller ID): +15005550006",
		);
		// The contact's own number refused is still permanent.
		standin.refused.add("+84920000009");
		expect(await dialer().place(campaignCall({ to: "+84920000009" }))).toMatchObject({ kind: "permanent" });
		expect(standin.calls.size).toBe(0);
	});

	it("a network error is transient and uncertain", async () => {
		standin.faults.push({ kind: "throw" });
		expect(await dialer().place(campaignCall())).toEqual({
			kind: "transient",
			reason: "The provider could not be reached.",
			uncertain: true,
		});
	});

	it("no answer within the dial timeout is transient and uncertain", { timeout: 20_000 }, async () => {
		standin.faults.push({ kind: "hang" });
		const started = Date.now();
		expect(await dialer().place(campaignCall())).toEqual({
			kind: "transient",
			reason: "The provider did not answer in time.",
			uncertain: true,
		});
		expect(Date.now() - started).toBeGreaterThanOrEqual(9_000);
	});
});

describe("asking again after an unanswered request (firstAskedAt)", () => {
	it("a call Twilio already has is adopted, not dialled again", async () => {
		const call = campaignCall();
		standin.faults.push({ kind: "lose-answer" });
		const first = await dialer().place(call);
		expect(first).toMatchObject({ kind: "transient", uncertain: true });
		expect(standin.calls.size).toBe(1);
		const [sid] = [...standin.calls.keys()];
		const again = await dialer().place({ ...call, firstAskedAt: Date.now() - 5_000 });
		expect(again).toEqual({ kind: "accepted", providerCallId: sid });
		expect(standin.creates()).toHaveLength(1);
		// The look-ups: To, From and the UTC day of the first ask; and the calls still queued.
		const lookups = standin.requests.filter((r) => r.method === "GET");
		expect(lookups).toHaveLength(2);
		for (const lookup of lookups) {
			expect(lookup.path).toBe(CALLS_PATH);
			expect(lookup.headers.get("Authorization")).toBe(`Basic ${btoa(`${SID}:${TOKEN}`)}`);
			expect(lookup.url.searchParams.get("To")).toBe(call.to);
			expect(lookup.url.searchParams.get("From")).toBe(call.callerId);
		}
		const day = new Date(Date.now() - 5_000 - 120_000).toISOString().slice(0, 10);
		expect(lookups.map((r) => r.url.searchParams.get("StartTime>"))).toContain(day);
		expect(lookups.map((r) => r.url.searchParams.get("Status"))).toContain("queued");
		// The query string names the filter as Twilio documents it: `StartTime>=YYYY-MM-DD`.
		expect(lookups.some((r) => r.url.search.includes(`StartTime%3E=${day}`))).toBe(true);
	});

	it("a call still queued at Twilio (no start time yet) is found too", async () => {
		const call = campaignCall();
		standin.faults.push({ kind: "lose-answer" });
		await dialer().place(call);
		const [record] = [...standin.calls.values()];
		expect(record?.status).toBe("queued");
		expect(await dialer().place({ ...call, firstAskedAt: Date.now() })).toEqual({
			kind: "accepted",
			providerCallId: record?.sid,
		});
		expect(standin.creates()).toHaveLength(1);
	});

	it("nothing at Twilio: the call is dialled", async () => {
		const call = campaignCall();
		const result = await dialer().place({ ...call, firstAskedAt: Date.now() - 1_000 });
		expect(result.kind).toBe("accepted");
		expect(standin.creates()).toHaveLength(1);
	});

	it("a call created before the first ask, or claimed by another callgate call, is not this one", async () => {
		const account = await newAccount();
		const call = campaignCall({ accountId: account.id });
		// An older call between the same numbers.
		standin.faults.push({ kind: "lose-answer" });
		await dialer().place(call);
		const [old] = [...standin.calls.values()];
		if (old) old.dateCreated = Date.now() - 3_600_000;
		// A recent one, but it is another callgate call's.
		standin.faults.push({ kind: "lose-answer" });
		await dialer().place(call);
		const claimed = [...standin.calls.values()].find((c) => c.sid !== old?.sid);
		const now = new Date().toISOString();
		await env.DB.prepare(
			`INSERT INTO calls (id, account_id, kind, to_phone, caller_id, status, provider_call_id, created_at, updated_at)
			 VALUES (?, ?, 'click_to_call', ?, ?, 'ringing', ?, ?, ?)`,
		)
			.bind(crypto.randomUUID(), account.id, call.to, call.callerId, claimed?.sid, now, now)
			.run();
		const result = await dialer().place({ ...call, firstAskedAt: Date.now() - 60_000 });
		expect(result.kind).toBe("accepted");
		expect(standin.creates()).toHaveLength(3);
		expect(result.kind === "accepted" && result.providerCallId).not.toBe(claimed?.sid);
		expect(result.kind === "accepted" && result.providerCallId).not.toBe(old?.sid);
	});

	it("a look-up Twilio does not answer dials nothing: transient, still uncertain, Retry-After kept", async () => {
		standin.faults.push({ kind: "status", status: 503, retryAfter: "30" });
		const result = await dialer().place({ ...campaignCall(), firstAskedAt: Date.now() });
		expect(result).toMatchObject({ kind: "transient", uncertain: true, retryAfterMs: 30_000 });
		expect(standin.creates()).toHaveLength(0);
		standin.faults.push({ kind: "throw" });
		expect(await dialer().place({ ...campaignCall(), firstAskedAt: Date.now() })).toMatchObject({
			kind: "transient",
			uncertain: true,
		});
		expect(standin.creates()).toHaveLength(0);
	});
});

describe("Twilio SMS", () => {
	const sms = (overrides: Partial<OutboundSms> = {}): OutboundSms => ({
		messageId: crypto.randomUUID(),
		accountId: "a",
		to: "+84920000003",
		from: "+15005550006",
		text: "Your code is 1234 & thanks",
		firstAskedAt: null,
		...overrides,
	});

	it("POST Messages.json: basic auth, form-encoded To, From, Body, StatusCallback", async () => {
		const message = sms();
		const result = await twilioSmsSender(env).send(message);
		const [request] = standin.requests;
		expect(request?.method).toBe("POST");
		expect(request?.path).toBe(MESSAGES_PATH);
		expect(request?.headers.get("Authorization")).toBe(`Basic ${btoa(`${SID}:${TOKEN}`)}`);
		expect(request?.headers.get("Content-Type")).toBe("application/x-www-form-urlencoded");
		expect(request?.params).toEqual([
			["To", "+84920000003"],
			["From", "+15005550006"],
			["Body", "Your code is 1234 & thanks"],
			["StatusCallback", `https://callgate.test/api/webhooks/twilio/sms?message_id=${message.messageId}${OVERRIDES}`],
		]);
		expect(result).toEqual({ kind: "accepted", providerMessageId: [...standin.messages.keys()][0] });
		expect(twilioSmsSender(env).simulated).toBe(false);
	});

	it("classifies like a dial: 429 transient with Retry-After, 21211 permanent", async () => {
		standin.faults.push({ kind: "status", status: 429, retryAfter: "3" });
		expect(await twilioSmsSender(env).send(sms())).toMatchObject({ kind: "transient", retryAfterMs: 3_000 });
		standin.refused.add("+84920000004");
		expect(await twilioSmsSender(env).send(sms({ to: "+84920000004" }))).toEqual({
			kind: "permanent",
			reason: "Twilio 21211: The 'To' number +84920000004 is not a valid phone number.",
		});
	});

	it("a message Twilio already has (same body, since the first ask) is not sent again", async () => {
		const message = sms();
		standin.faults.push({ kind: "lose-answer" });
		expect((await twilioSmsSender(env).send(message)).kind).toBe("transient");
		const [sid] = [...standin.messages.keys()];
		expect(await twilioSmsSender(env).send({ ...message, firstAskedAt: Date.now() - 1_000 })).toEqual({
			kind: "accepted",
			providerMessageId: sid,
		});
		expect(standin.requests.filter((r) => r.method === "POST")).toHaveLength(1);
		const lookups = standin.requests.filter((r) => r.method === "GET");
		expect(lookups.every((r) => r.path === MESSAGES_PATH)).toBe(true);
		expect(lookups.some((r) => r.url.searchParams.has("DateSent>"))).toBe(true);
		// Another text to the same number is a different message: sent.
		expect((await twilioSmsSender(env).send({ ...sms({ text: "Another" }), firstAskedAt: Date.now() })).kind).toBe("accepted");
		expect(standin.requests.filter((r) => r.method === "POST")).toHaveLength(2);
	});
});
