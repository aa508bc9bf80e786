import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { twilioDialer } from "../workers/carriers/twilio/voice";
import { createCampaign } from "./campaign-helpers";
import { call, countRows, newAccount, pbxAccount } from "./helpers";
import { callbackHeaders, type SignedCallback, standinSign, TwilioStandin } from "./support/carriers/twilio-standin";
import { outboundCall } from "./support/outbound-call";

const SID = "AC00000000000000000000000000000001";
const TOKEN = "test-twilio-auth-token";
const realFetch = globalThis.fetch;
let standin: TwilioStandin;

beforeEach(() => {
	standin = new TwilioStandin(SID, TOKEN);
	vi.spyOn(globalThis, "fetch").mockImplementation(standin.fetchFor(realFetch));
});
afterEach(() => vi.restoreAllMocks());

interface CallRow {
	status: string;
	outcome: string | null;
	failure_reason: string | null;
	provider_call_id: string | null;
	duration_seconds: number | null;
	answered_at: string | null;
	ended_at: string | null;
}

const callRow = (id: string) =>
	env.DB.prepare(
		"SELECT status, outcome, failure_reason, provider_call_id, duration_seconds, answered_at, ended_at FROM calls WHERE id = ?",
	)
		.bind(id)
		.first<CallRow>();

let account: { id: string };

/** A click-to-call row as the API makes it, already handed to the dialer. */
async function insertCall(accountId: string, options: { campaignId?: string; status?: string } = {}) {
	const id = crypto.randomUUID();
	const now = new Date().toISOString();
	await env.DB.prepare(
		`INSERT INTO calls (id, account_id, kind, campaign_id, to_phone, caller_id, status, created_at, updated_at)
		 VALUES (?, ?, ?, ?, '+84920000001', '+15005550006', ?, ?, ?)`,
	)
		.bind(
			id,
			accountId,
			options.campaignId ? "campaign" : "click_to_call",
			options.campaignId ?? null,
			options.status ?? "dialing",
			now,
			now,
		)
		.run();
	return id;
}

/** Places the call through the adapter, so the stand-in holds it with callgate's callback URLs. */
async function placed(callId: string, overrides: Parameters<typeof outboundCall>[0] = {}) {
	const result = await twilioDialer(env).place(
		outboundCall({ callId, to: "+84920000001", callerId: "+15005550006", ...overrides }),
	);
	if (result.kind !== "accepted" || !result.providerCallId) throw new Error(`not placed: ${JSON.stringify(result)}`);
	return result.providerCallId;
}

async function post(
	callback: SignedCallback,
	options: { signature?: string; body?: string; path?: string; headers?: Record<string, string> } = {},
) {
	const response = await call(options.path ?? callback.path, {
		method: "POST",
		rawBody: options.body ?? callback.body,
		headers: { ...callbackHeaders(callback, options.signature), ...options.headers },
	});
	const text = await response.text();
	return { status: response.status, text, json: () => JSON.parse(text) as { result: string } };
}

const events = (accountId: string) => countRows("events", "account_id = ?", accountId);
const recorded = () => countRows("provider_events", "provider = 'twilio'");

beforeEach(async () => {
	account = await newAccount();
});

describe("Twilio voice callbacks", () => {
	it("signed callbacks are applied: ringing, answered, completed with duration; the call's completion event once", async () => {
		const id = await insertCall(account.id);
		const sid = await placed(id);
		expect((await post(await standin.statusCallback(sid, "initiated"))).json()).toEqual({ result: "ignored" });
		expect((await post(await standin.statusCallback(sid, "ringing"))).json()).toEqual({ result: "applied" });
		expect((await callRow(id))?.status).toBe("ringing");
		expect((await post(await standin.statusCallback(sid, "in-progress"))).json()).toEqual({ result: "applied" });
		expect(await callRow(id)).toMatchObject({ status: "in_progress", provider_call_id: sid });
		const before = await events(account.id);
		const completed = await standin.statusCallback(sid, "completed", { CallDuration: "42", Duration: "1" });
		expect((await post(completed)).json()).toEqual({ result: "applied" });
		expect(await callRow(id)).toMatchObject({ status: "completed", outcome: "completed", duration_seconds: 42 });
		expect(await events(account.id)).toBe(before + 1);
	});

	it("refuses tampered, unsigned, wrongly signed and not form-encoded callbacks, changing nothing", async () => {
		const id = await insertCall(account.id);
		const other = await insertCall(account.id);
		const sid = await placed(id);
		const good = await standin.statusCallback(sid, "completed", { CallDuration: "5" });
		const snapshot = async () => ({
			a: await callRow(id),
			b: await callRow(other),
			events: await events(account.id),
			ids: await recorded(),
		});
		const before = await snapshot();
		const refusals = [
			// The body changed after signing.
			await post(good, { body: good.body.replace("CallStatus=completed", "CallStatus=failed") }),
			await post(good, { body: `${good.body}&Extra=1` }),
			// The URL changed: another call's id.
			await post(good, { path: good.path.replace(id, other) }),
			await post(good, { path: `${good.path}&leg=agent` }),
			// No signature, or one made with another token, or over the request's own URL (http, not PUBLIC_BASE_URL).
			await post(good, { signature: "" }),
			await post(good, { signature: await standinSign("another-token", `https://callgate.test${good.path}`, good.params) }),
			await post(good, { signature: await standinSign(TOKEN, `http://callgate.test${good.path}`, good.params) }),
			// Signed, but not form-encoded as Twilio sends it.
			await post(good, { headers: { "Content-Type": "application/json" } }),
		];
		for (const refusal of refusals) {
			expect(refusal.status).toBe(401);
			expect(JSON.parse(refusal.text)).toEqual({ message: "Invalid or missing X-Twilio-Signature." });
		}
		expect(await snapshot()).toEqual(before);
		// The untouched callback still applies.
		expect((await post(good)).json()).toEqual({ result: "applied" });
	});

	it("a replayed callback is a duplicate: D1 and the events unchanged", async () => {
		const id = await insertCall(account.id);
		const sid = await placed(id);
		const completed = await standin.statusCallback(sid, "completed", { CallDuration: "9" });
		expect((await post(completed)).json()).toEqual({ result: "applied" });
		const after = { row: await callRow(id), events: await events(account.id), ids: await recorded() };
		for (let i = 0; i < 3; i++) expect((await post(completed)).json()).toEqual({ result: "duplicate" });
		expect({ row: await callRow(id), events: await events(account.id), ids: await recorded() }).toEqual(after);
	});

	it("a callback signed over the URL with its connection-override fragment is accepted too", async () => {
		const id = await insertCall(account.id);
		const sid = await placed(id);
		const target = standin.calls.get(sid)?.statusCallback ?? "";
		expect(target.endsWith("#rc=3&rp=ct,rt,5xx")).toBe(true);
		const params = { AccountSid: SID, CallSid: sid, CallStatus: "ringing" };
		const withFragment = await standin.signed(target, params, { signFragment: true });
		expect((await post(withFragment)).json()).toEqual({ result: "applied" });
	});

	it("late and out-of-order callbacks never move a call backwards (completed before ringing)", async () => {
		const id = await insertCall(account.id);
		const sid = await placed(id);
		const ringing = await standin.statusCallback(sid, "ringing", {}, Date.now() - 20_000);
		const answered = await standin.statusCallback(sid, "in-progress", {}, Date.now() - 10_000);
		const completed = await standin.statusCallback(sid, "completed", { CallDuration: "10" });
		expect((await post(completed)).json()).toEqual({ result: "applied" });
		const final = await callRow(id);
		expect((await post(answered)).json()).toEqual({ result: "stale" });
		expect((await post(ringing)).json()).toEqual({ result: "stale" });
		expect(await callRow(id)).toEqual(final);
		expect(final?.status).toBe("completed");
	});

	it("maps every CallStatus (and AnsweredBy) onto callgate's states", async () => {
		const cases: [string, Record<string, string>, Partial<CallRow> | "ignored"][] = [
			["queued", {}, "ignored"],
			["initiated", {}, "ignored"],
			["ringing", {}, { status: "ringing" }],
			["in-progress", {}, { status: "in_progress" }],
			["completed", { CallDuration: "3" }, { status: "completed", duration_seconds: 3 }],
			["completed", { AnsweredBy: "human" }, { status: "completed" }],
			["completed", { AnsweredBy: "unknown" }, { status: "completed" }],
			["completed", { AnsweredBy: "machine_start" }, { status: "voicemail", outcome: "voicemail" }],
			["completed", { AnsweredBy: "machine_end_beep" }, { status: "voicemail" }],
			["completed", { AnsweredBy: "fax" }, { status: "voicemail" }],
			["in-progress", { AnsweredBy: "machine_start" }, { status: "voicemail" }],
			["busy", {}, { status: "busy", outcome: "busy" }],
			["no-answer", {}, { status: "no_answer", outcome: "no_answer" }],
			[
				"failed",
				{ ErrorCode: "32009", ErrorMessage: "Your TwiML tried to dial an unreachable destination", SipResponseCode: "404" },
				{ status: "failed", failure_reason: "Twilio 32009: Your TwiML tried to dial an unreachable destination / SIP 404" },
			],
			["failed", {}, { status: "failed", failure_reason: "Twilio reported the call failed." }],
			["canceled", {}, { status: "cancelled", outcome: "cancelled" }],
			["something-new", {}, "ignored"],
		];
		for (const [status, extra, expected] of cases) {
			const id = await insertCall(account.id);
			const sid = await placed(id);
			const answer = (await post(await standin.statusCallback(sid, status, extra))).json();
			if (expected === "ignored") {
				expect(answer, status).toEqual({ result: "ignored" });
				expect((await callRow(id))?.status).toBe("dialing");
			} else {
				expect(answer, `${status} ${JSON.stringify(extra)}`).toEqual({ result: "applied" });
				expect(await callRow(id), `${status} ${JSON.stringify(extra)}`).toMatchObject(expected);
			}
		}
	});

	it("a callback for a call callgate does not know changes nothing", async () => {
		const id = crypto.randomUUID();
		const sid = await placed(id);
		const before = await recorded();
		expect((await post(await standin.statusCallback(sid, "completed"))).json()).toEqual({ result: "unknown-call" });
		expect(await recorded()).toBe(before);
	});

	it("a callback for another Twilio account is refused even when signed with this token", async () => {
		const id = await insertCall(account.id);
		const sid = await placed(id);
		const callback = await standin.statusCallback(sid, "completed", { AccountSid: "AC99999999999999999999999999999999" });
		expect((await post(callback)).status).toBe(422);
		expect((await callRow(id))?.status).toBe("dialing");
	});
});

describe("a click-to-call through Twilio: the agent first, then the customer", () => {
	it("rings the agent, bridges the customer with the call's caller id, and follows the customer's leg", async () => {
		const id = await insertCall(account.id);
		const agentSid = await placed(id, { agentLeg: "sip:agent-1001@pbx.example.com" });
		expect((await post(await standin.statusCallback(agentSid, "ringing"))).json()).toEqual({ result: "applied" });
		expect((await callRow(id))?.status).toBe("ringing");
		// The agent answers: Twilio asks for instructions, callgate bridges the customer.
		const answer = await post(await standin.answerRequest(agentSid));
		expect(answer.status).toBe(200);
		expect(answer.text).toBe(
			`<?xml version="1.0" encoding="UTF-8"?><Response><Dial callerId="+15005550006" timeout="30" timeLimit="810"><Number statusCallback="https://callgate.test/api/webhooks/twilio/voice?call_id=${id}&amp;leg=customer#rc=3&amp;rp=ct,rt,5xx" statusCallbackEvent="initiated ringing answered completed" statusCallbackMethod="POST">+84920000001</Number></Dial></Response>`,
		);
		// The agent's leg is answered; the call is still ringing (the customer's phone now).
		expect(["applied", "stale"]).toContain((await post(await standin.statusCallback(agentSid, "in-progress"))).json().result);
		expect((await callRow(id))?.status).toBe("ringing");
		const child = standin.dialChild(
			agentSid,
			"+84920000001",
			"+15005550006",
			`https://callgate.test/api/webhooks/twilio/voice?call_id=${id}&leg=customer#rc=3&rp=ct,rt,5xx`,
		);
		expect((await post(await standin.statusCallback(child.sid, "ringing"))).json().result).toMatch(/applied|stale/);
		expect((await post(await standin.statusCallback(child.sid, "in-progress"))).json()).toEqual({ result: "applied" });
		expect(await callRow(id)).toMatchObject({ status: "in_progress", provider_call_id: agentSid });
		expect((await post(await standin.statusCallback(child.sid, "completed", { CallDuration: "61" }))).json()).toEqual({
			result: "applied",
		});
		// The agent's leg ends after: it reports nothing more.
		expect((await post(await standin.statusCallback(agentSid, "completed"))).json()).toEqual({ result: "ignored" });
		expect(await callRow(id)).toMatchObject({ status: "completed", duration_seconds: 61, provider_call_id: agentSid });
	});

	it("the bridge's <Dial timeLimit> is MAX_CALL_SECONDS less both legs' ringing and a margin", async () => {
		const id = await insertCall(account.id);
		const agentSid = await placed(id, { agentLeg: "sip:agent-1001@pbx.example.com" });
		const request = await standin.answerRequest(agentSid);
		// 900 − 2 × 30 (the agent's leg, then the customer's) − 30; Twilio counts it from the customer's answer.
		expect((await post(request)).text).toContain('<Dial callerId="+15005550006" timeout="30" timeLimit="810">');
	});

	it("the agent's leg answered then completed with no customer leg ever started ends the call no_answer, with the reason", async () => {
		const id = await insertCall(account.id);
		const agentSid = await placed(id, { agentLeg: "sip:1001@pbx.example.com" });
		// The agent picks up; the instructions request fails (a D1 blip, a deploy) or the agent hangs up at once:
		// Twilio ends the agent's leg before any <Dial> child exists, and will send nothing else about this call.
		expect((await post(await standin.statusCallback(agentSid, "ringing"))).json()).toEqual({ result: "applied" });
		expect((await post(await standin.statusCallback(agentSid, "in-progress"))).json().result).toMatch(/applied|stale/);
		const before = await events(account.id);
		const completed = await standin.statusCallback(agentSid, "completed", { CallDuration: "3" });
		expect((await post(completed)).json()).toEqual({ result: "applied" });
		const row = await callRow(id);
		expect(row).toMatchObject({
			status: "no_answer",
			outcome: "no_answer",
			failure_reason: "The agent hung up before the customer was connected.",
			provider_call_id: agentSid,
		});
		expect(row?.ended_at).not.toBeNull();
		expect(await events(account.id)).toBe(before + 1);
		expect((await post(completed)).json()).toEqual({ result: "duplicate" });
	});

	it("once the bridge was handed out, the agent's leg completing changes nothing: the customer's leg reports the end", async () => {
		const id = await insertCall(account.id);
		const agentSid = await placed(id, { agentLeg: "sip:1001@pbx.example.com" });
		expect((await post(await standin.answerRequest(agentSid))).text).toContain("<Dial ");
		const child = standin.dialChild(
			agentSid,
			"+84920000001",
			"+15005550006",
			`https://callgate.test/api/webhooks/twilio/voice?call_id=${id}&leg=customer#rc=3&rp=ct,rt,5xx`,
		);
		expect((await post(await standin.statusCallback(child.sid, "ringing"))).json().result).toMatch(/applied|stale/);
		// The agent hangs up while the customer's phone rings: the agent's completed may arrive first.
		expect((await post(await standin.statusCallback(agentSid, "completed", { CallDuration: "20" }))).json()).toEqual({
			result: "ignored",
		});
		expect((await callRow(id))?.ended_at).toBeNull();
		// Twilio ends the customer's leg with it, and that leg reports the call's end.
		expect((await post(await standin.statusCallback(child.sid, "no-answer"))).json()).toEqual({ result: "applied" });
		expect(await callRow(id)).toMatchObject({ status: "no_answer", failure_reason: null });
	});

	it("an agent who does not answer ends the call no_answer, with the reason", async () => {
		for (const [status, expected] of [
			["no-answer", { status: "no_answer", failure_reason: "The agent did not answer." }],
			["busy", { status: "no_answer", failure_reason: "The agent did not answer (busy)." }],
			["failed", { status: "failed", failure_reason: "The agent's line failed: SIP 480" }],
		] as const) {
			const id = await insertCall(account.id);
			const agentSid = await placed(id, { agentLeg: "+84920000099" });
			const extra: Record<string, string> = status === "failed" ? { SipResponseCode: "480" } : {};
			expect((await post(await standin.statusCallback(agentSid, status, extra))).json()).toEqual({ result: "applied" });
			expect(await callRow(id)).toMatchObject(expected);
		}
	});
});

describe("a Twilio request is bound to the call's own CallSid once callgate knows it", () => {
	/** A live click-to-call of its own account, placed through the adapter, its CallSid recorded as the dial's answer does. */
	async function liveCall(accountId: string) {
		const id = await insertCall(accountId);
		const sid = await placed(id, { agentLeg: "+84900000001" });
		await env.DB.prepare("UPDATE calls SET provider_call_id = ? WHERE id = ?").bind(sid, id).run();
		return { id, sid };
	}

	it("a signed callback about another Twilio call (neither its CallSid nor its ParentCallSid is the call's) is ignored and changes nothing", async () => {
		// Account B's live click-to-call, with its CallSid recorded.
		const victim = await newAccount();
		const b = await liveCall(victim.id);
		expect((await post(await standin.statusCallback(b.sid, "in-progress"))).json().result).toMatch(/applied|stale/);
		await env.DB.prepare("UPDATE calls SET status = 'in_progress' WHERE id = ?").bind(b.id).run();
		// Account A's own call. Twilio signs every request it makes with the operator's one auth token, including
		// those to URLs A's agent platform names, e.g. <Dial><Number statusCallback="…/voice?call_id={B}&leg=customer">.
		const attacker = await newAccount();
		const a = await liveCall(attacker.id);
		const childSid = `CA${"f".repeat(32)}`;
		const snapshot = async () => ({ row: await callRow(b.id), events: await events(victim.id), ids: await recorded() });
		const before = await snapshot();
		const forged: [leg: string | null, params: Record<string, string>][] = [
			// A's bridged child, posing as B's customer leg.
			["customer", { CallSid: childSid, ParentCallSid: a.sid, CallStatus: "busy", Direction: "outbound-dial" }],
			// A's own call, posing as B's agent leg or as B itself.
			["agent", { CallSid: a.sid, CallStatus: "completed" }],
			[null, { CallSid: a.sid, CallStatus: "failed" }],
			// A child whose own CallSid is B's: the customer leg is bound by its parent, not its own sid.
			["customer", { CallSid: b.sid, ParentCallSid: a.sid, CallStatus: "completed" }],
		];
		for (const [leg, params] of forged) {
			const target = `https://callgate.test/api/webhooks/twilio/voice?call_id=${b.id}${leg ? `&leg=${leg}` : ""}`;
			const answer = await post(await standin.signed(target, { AccountSid: SID, ...params }));
			expect({ status: answer.status, body: answer.json() }, JSON.stringify(params)).toEqual({
				status: 200,
				body: { result: "ignored" },
			});
		}
		expect(await snapshot()).toEqual(before);
		expect(before.row).toMatchObject({ status: "in_progress", provider_call_id: b.sid });
		// B's own customer leg (its parent is B's agent leg) still applies.
		const child = standin.dialChild(
			b.sid,
			"+84920000001",
			"+15005550006",
			`https://callgate.test/api/webhooks/twilio/voice?call_id=${b.id}&leg=customer`,
		);
		expect((await post(await standin.statusCallback(child.sid, "completed", { CallDuration: "8" }))).json()).toEqual({
			result: "applied",
		});
		expect(await callRow(b.id)).toMatchObject({ status: "completed", duration_seconds: 8, provider_call_id: b.sid });
	});

	it("an instructions request about another Twilio call is hung up on and hands out nothing (no bridge, no agent platform)", async () => {
		const victim = await newAccount();
		const b = await liveCall(victim.id);
		const attacker = await newAccount();
		const a = await liveCall(attacker.id);
		const before = { row: await callRow(b.id), ids: await recorded() };
		const forged = await standin.signed(`https://callgate.test/api/webhooks/twilio/answer?call_id=${b.id}&leg=agent`, {
			AccountSid: SID,
			CallSid: a.sid,
			CallStatus: "in-progress",
		});
		const answer = await post(forged);
		expect(answer.status).toBe(200);
		expect(answer.text).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>');
		expect({ row: await callRow(b.id), ids: await recorded() }).toEqual(before);
		// B's own agent leg gets its bridge.
		expect((await post(await standin.answerRequest(b.sid))).text).toContain("<Dial ");
	});

	it("before the CallSid is recorded, callbacks are taken as before and the first one recorded binds the call", async () => {
		const id = await insertCall(account.id);
		const sid = await placed(id);
		expect((await callRow(id))?.provider_call_id).toBeNull();
		expect((await post(await standin.statusCallback(sid, "ringing"))).json()).toEqual({ result: "applied" });
		expect((await callRow(id))?.provider_call_id).toBe(sid);
		// From now on, another call's callback for this call id changes nothing.
		const other = await placed(crypto.randomUUID());
		const target = `https://callgate.test/api/webhooks/twilio/voice?call_id=${id}`;
		expect((await post(await standin.signed(target, { AccountSid: SID, CallSid: other, CallStatus: "busy" }))).json()).toEqual({
			result: "ignored",
		});
		expect((await callRow(id))?.status).toBe("ringing");
	});
});

describe("malformed Twilio requests", () => {
	it("the Twilio routes answer 4xx (never 5xx) to garbage: bad query, bad form, JSON, an oversized or non-UTF-8 body", async () => {
		const statuses: Record<string, number> = {};
		const probe = async (name: string, path: string, init: { body: string; headers: Record<string, string> }) => {
			const response = await call(path, {
				method: "POST",
				rawBody: init.body,
				headers: init.headers,
				unvalidated: "garbage probe",
			});
			await response.text();
			statuses[name] = response.status;
		};
		const form = { "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "AAAA" };
		await probe("voice, no query", "/api/webhooks/twilio/voice", { body: "a=%ZZ&&=", headers: form });
		await probe("voice, call_id not a uuid", "/api/webhooks/twilio/voice?call_id=x", { body: "CallSid=1", headers: form });
		await probe("voice, unknown leg", `/api/webhooks/twilio/voice?call_id=${crypto.randomUUID()}&leg=x`, {
			body: "CallSid=1",
			headers: form,
		});
		await probe("answer, JSON", `/api/webhooks/twilio/answer?call_id=${crypto.randomUUID()}`, {
			body: "{}",
			headers: { "Content-Type": "application/json" },
		});
		await probe("sms, 200 KB", `/api/webhooks/twilio/sms?message_id=${crypto.randomUUID()}`, {
			body: "a=".padEnd(200_000, "b"),
			headers: form,
		});
		await probe("sms, not UTF-8", `/api/webhooks/twilio/sms?message_id=${crypto.randomUUID()}`, {
			body: "a=%FF\uFFFD",
			headers: form,
		});
		// Signed correctly, but not Twilio's parameters.
		const signedGarbage = await standin.signed(`https://callgate.test/api/webhooks/twilio/voice?call_id=${crypto.randomUUID()}`, {
			CallSid: "not-a-sid",
			CallStatus: "",
		});
		await probe("voice, signed but not Twilio's parameters", signedGarbage.path, {
			body: signedGarbage.body,
			headers: callbackHeaders(signedGarbage),
		});
		for (const [name, status] of Object.entries(statuses)) {
			expect(status, name).toBeGreaterThanOrEqual(400);
			expect(status, name).toBeLessThan(500);
		}
		expect(statuses["voice, signed but not Twilio's parameters"]).toBe(422);
	});
});

describe("the instructions route for an answered campaign call", () => {
	async function campaignCall(agentAnswerUrl: string | null) {
		const owner = await pbxAccount();
		await env.DB.prepare("UPDATE accounts SET agent_answer_url = ? WHERE id = ?").bind(agentAnswerUrl, owner.id).run();
		const campaign = await createCampaign(owner);
		const id = await insertCall(owner.id, { campaignId: campaign.id, status: "ringing" });
		return { owner, id };
	}

	it("hands the call to the account's agent platform with agent_id and call_id, XML-escaped", async () => {
		const { id } = await campaignCall("https://agents.example.com/answer?tenant=a&b=<c>");
		const sid = await placed(id, { campaignId: "x" });
		const answer = await post(await standin.answerRequest(sid, { AnsweredBy: "human" }));
		expect(answer.status).toBe(200);
		expect(answer.text).toBe(
			`<?xml version="1.0" encoding="UTF-8"?><Response><Redirect method="POST">https://agents.example.com/answer?tenant=a&amp;b=%3Cc%3E&amp;agent_id=1f4baf16-1540-4d91-9696-7f34b2f2cb77&amp;call_id=${id}</Redirect></Response>`,
		);
		expect((await callRow(id))?.status).toBe("ringing");
	});

	it("a machine (detection on) is hung up on and the call ends voicemail, once", async () => {
		const { owner, id } = await campaignCall("https://agents.example.com/answer");
		const sid = await placed(id, { campaignId: "x", machineDetection: true });
		const request = await standin.answerRequest(sid, { AnsweredBy: "machine_start" });
		const answer = await post(request);
		expect(answer.text).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>');
		expect(await callRow(id)).toMatchObject({ status: "voicemail", outcome: "voicemail", provider_call_id: sid });
		const after = await events(owner.id);
		// Twilio's completed callback after the hang-up, and a repeat of the request, change nothing.
		expect((await post(await standin.statusCallback(sid, "completed", { AnsweredBy: "machine_start" }))).json().result).toBe(
			"stale",
		);
		expect((await post(request)).status).toBe(200);
		expect(await events(owner.id)).toBe(after);
		expect((await callRow(id))?.status).toBe("voicemail");
	});

	it("no agent_answer_url: the call is hung up and fails with the reason", async () => {
		const { id } = await campaignCall(null);
		const sid = await placed(id, { campaignId: "x" });
		const answer = await post(await standin.answerRequest(sid));
		expect(answer.text).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>');
		expect(await callRow(id)).toMatchObject({
			status: "failed",
			failure_reason: "The account has no agent_answer_url: nobody to hand the answered call to.",
		});
	});

	it("refuses a tampered or unsigned instructions request", async () => {
		const { id } = await campaignCall("https://agents.example.com/answer");
		const sid = await placed(id, { campaignId: "x" });
		const request = await standin.answerRequest(sid, { AnsweredBy: "human" });
		expect((await post(request, { body: request.body.replace("AnsweredBy=human", "AnsweredBy=machine_start") })).status).toBe(
			401,
		);
		expect((await post(request, { signature: "" })).status).toBe(401);
		expect((await callRow(id))?.status).toBe("ringing");
	});
});

describe("Twilio SMS callbacks", () => {
	async function message(accountId: string) {
		const id = crypto.randomUUID();
		const now = new Date().toISOString();
		await env.DB.prepare(
			`INSERT INTO sms_messages (id, account_id, to_phone, sender, text, segments, status, created_at, updated_at)
			 VALUES (?, ?, '+84920000003', '+15005550006', 'Hello', 1, 'queued', ?, ?)`,
		)
			.bind(id, accountId, now, now)
			.run();
		const { twilioSmsSender } = await import("../workers/carriers/twilio/sms");
		const sent = await twilioSmsSender(env).send({
			messageId: id,
			accountId,
			to: "+84920000003",
			from: "+15005550006",
			text: "Hello",
			firstAskedAt: null,
		});
		if (sent.kind !== "accepted" || !sent.providerMessageId) throw new Error("not sent");
		return { id, sid: sent.providerMessageId };
	}
	const smsRow = (id: string) =>
		env.DB.prepare("SELECT status, delivered_at FROM sms_messages WHERE id = ?")
			.bind(id)
			.first<{ status: string; delivered_at: string | null }>();

	it("maps MessageStatus: queued/sending change nothing, sent, delivered; duplicates and tampering change nothing", async () => {
		const { id, sid } = await message(account.id);
		expect((await post(await standin.messageCallback(sid, "queued"))).json()).toEqual({ result: "ignored" });
		expect((await post(await standin.messageCallback(sid, "sending"))).json()).toEqual({ result: "ignored" });
		expect((await post(await standin.messageCallback(sid, "sent"))).json()).toEqual({ result: "applied" });
		expect((await smsRow(id))?.status).toBe("sent");
		const delivered = await standin.messageCallback(sid, "delivered");
		expect((await post(delivered, { body: delivered.body.replace("delivered", "failed") })).status).toBe(401);
		expect((await post(delivered, { signature: "" })).status).toBe(401);
		expect((await smsRow(id))?.status).toBe("sent");
		expect((await post(delivered)).json()).toEqual({ result: "applied" });
		const row = await smsRow(id);
		expect(row?.status).toBe("delivered");
		expect(row?.delivered_at).not.toBeNull();
		const after = await events(account.id);
		expect((await post(delivered)).json()).toEqual({ result: "duplicate" });
		// A late failure never overwrites a final status.
		expect((await post(await standin.messageCallback(sid, "undelivered", { ErrorCode: "30003" }))).json()).toEqual({
			result: "stale",
		});
		expect(await events(account.id)).toBe(after);
	});

	it("undelivered and failed fail the message with Twilio's error code", async () => {
		for (const status of ["undelivered", "failed", "canceled"]) {
			const { id, sid } = await message(account.id);
			expect((await post(await standin.messageCallback(sid, status, { ErrorCode: "30006" }))).json()).toEqual({
				result: "applied",
			});
			expect((await smsRow(id))?.status).toBe("failed");
		}
	});
});
