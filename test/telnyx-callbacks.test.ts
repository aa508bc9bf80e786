import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { verifyTelnyxSignature } from "../workers/carriers/telnyx/signature";
import { telnyxSmsSender } from "../workers/carriers/telnyx/sms";
import { telnyxDialer } from "../workers/carriers/telnyx/voice";
import type { OutboundCall } from "../workers/dialer/dialer";
import { createCampaign } from "./campaign-helpers";
import { call, countRows, pbxAccount } from "./helpers";
import { AGENT_PLATFORM, deliver, signTelnyx, TelnyxStandin, type Webhook } from "./support/carriers/telnyx-standin";
import { TELNYX_TEST_PUBLIC_KEY } from "./support/carriers/telnyx-test-key";

const CALLER_ID = "+842812345678";
const AGENT_ID = "1f4baf16-1540-4d91-9696-7f34b2f2cb77";

let standin: TelnyxStandin;
beforeEach(() => {
	standin = new TelnyxStandin();
	vi.spyOn(globalThis, "fetch").mockImplementation(standin.fetch);
});
afterEach(() => vi.restoreAllMocks());

type Account = Awaited<ReturnType<typeof pbxAccount>>;

async function accountWithAgentPlatform(): Promise<{ account: Account; campaignId: string }> {
	const account = await pbxAccount();
	await env.DB.prepare("UPDATE accounts SET agent_answer_url = ? WHERE id = ?").bind(AGENT_PLATFORM, account.id).run();
	// Scheduled far ahead: its pacer dials nothing; the test places the calls itself.
	const campaign = await createCampaign(account, { contacts: ["0920000001"] });
	return { account, campaignId: campaign.id };
}

/** A call as the pacer or the dispatcher records it before dialling, then dialled through the Telnyx adapter. */
async function placed(
	account: Account,
	options: { campaignId?: string | null; to: string; machineDetection?: boolean; agentLeg?: string | null },
) {
	const id = crypto.randomUUID();
	const now = new Date().toISOString();
	const kind = options.agentLeg ? "click_to_call" : "campaign";
	await env.DB.prepare(
		`INSERT INTO calls (id, account_id, kind, campaign_id, contact_id, attempt, to_phone, caller_id, status, created_at, updated_at)
		 VALUES (?, ?, ?, ?, ?, 1, ?, ?, 'dialing', ?, ?)`,
	)
		.bind(
			id,
			account.id,
			kind,
			options.campaignId ?? null,
			options.campaignId ? crypto.randomUUID() : null,
			options.to,
			CALLER_ID,
			now,
			now,
		)
		.run();
	const outbound: OutboundCall = {
		callId: id,
		accountId: account.id,
		campaignId: options.campaignId ?? null,
		to: options.to,
		callerId: CALLER_ID,
		agentId: options.campaignId ? AGENT_ID : null,
		agentLeg: options.agentLeg ?? null,
		machineDetection: options.machineDetection ?? false,
		firstAskedAt: null,
	};
	const result = await telnyxDialer(env).place(outbound);
	expect(result.kind).toBe("accepted");
	return { id, providerCallId: result.kind === "accepted" ? result.providerCallId : undefined };
}

const row = (id: string) =>
	env.DB.prepare(
		"SELECT status, outcome, failure_reason, provider_call_id, answered_at, ended_at, duration_seconds FROM calls WHERE id = ?",
	)
		.bind(id)
		.first<Record<string, string | number | null>>();

/** Everything a refused callback must leave alone: the call, the recorded event ids, the account's events. */
const snapshot = async (callId: string, accountId: string) => ({
	call: await row(callId),
	recorded: await countRows("provider_events", "provider = 'telnyx'"),
	events: await countRows("events", "account_id = ?", accountId),
});

async function deliverAll(webhooks: Webhook[]) {
	const results: string[] = [];
	for (const webhook of webhooks) {
		const response = await deliver(call, webhook.body);
		expect(response.status, `${webhook.eventType}: ${await response.clone().text()}`).toBe(200);
		results.push(((await response.json()) as { result: string }).result);
	}
	return results;
}

const completedEvents = (accountId: string) => countRows("events", "account_id = ? AND type = 'call.completed'", accountId);

describe("Telnyx call webhooks through POST /api/webhooks/telnyx", () => {
	it("a campaign call: signed events applied in order; call.answered forwarded byte for byte, signature and all, to agent_answer_url with agent_id and call_id", async () => {
		const { account, campaignId } = await accountWithAgentPlatform();
		const { id, providerCallId } = await placed(account, { campaignId, to: "+84920000001" });
		const webhooks = standin.take();
		expect(webhooks.map((w) => w.eventType)).toEqual(["call.initiated", "call.answered", "call.hangup"]);

		expect(await deliverAll(webhooks.slice(0, 1))).toEqual(["applied"]);
		expect(await row(id)).toMatchObject({ status: "ringing", provider_call_id: providerCallId });

		const answered = webhooks[1] as Webhook;
		const headers = await signTelnyx(answered.body);
		const response = await deliver(call, answered.body, headers);
		expect(await response.json()).toEqual({ result: "applied" });
		expect(await row(id)).toMatchObject({ status: "in_progress" });
		expect(standin.forwarded).toHaveLength(1);
		const forwarded = standin.forwarded[0];
		const url = new URL(forwarded?.url ?? "");
		expect(`${url.origin}${url.pathname}`).toBe(AGENT_PLATFORM);
		expect(Object.fromEntries(url.searchParams)).toEqual({ agent_id: AGENT_ID, call_id: id });
		expect(forwarded?.body).toBe(answered.body);
		expect(forwarded?.headers).toMatchObject({
			"content-type": "application/json",
			"telnyx-signature-ed25519": headers["telnyx-signature-ed25519"],
			"telnyx-timestamp": headers["telnyx-timestamp"],
		});
		// The agent platform can verify it with Telnyx's public key.
		expect(
			await verifyTelnyxSignature(
				TELNYX_TEST_PUBLIC_KEY,
				forwarded?.body ?? "",
				forwarded?.headers["telnyx-signature-ed25519"] ?? null,
				forwarded?.headers["telnyx-timestamp"] ?? null,
			),
		).toEqual({ ok: true });

		expect(await deliverAll(webhooks.slice(2))).toEqual(["applied"]);
		expect(await row(id)).toMatchObject({ status: "completed", outcome: "completed", failure_reason: null });
		expect(await completedEvents(account.id)).toBe(1);
		// Redelivered (Telnyx delivers at least once): deduplicated by data.id, forwarded once only.
		expect(await deliverAll(webhooks)).toEqual(["duplicate", "duplicate", "duplicate"]);
		expect(standin.forwarded).toHaveLength(1);
		expect(await completedEvents(account.id)).toBe(1);
	});

	it("a forward the agent platform does not take answers 503 and records nothing; the redelivery forwards and applies it", async () => {
		const { account, campaignId } = await accountWithAgentPlatform();
		const { id } = await placed(account, { campaignId, to: "+84920000002" });
		const [initiated, answered] = standin.take();
		await deliverAll([initiated as Webhook]);
		const before = await snapshot(id, account.id);
		standin.agentStatus = 500;
		const refused = await deliver(call, answered?.body ?? "");
		expect(refused.status).toBe(503);
		expect(await refused.json()).toEqual({ message: "The agent platform answered 500. Deliver the event again." });
		expect(await snapshot(id, account.id)).toEqual(before);
		standin.agentStatus = 204;
		expect(await deliverAll([answered as Webhook])).toEqual(["applied"]);
		expect(standin.forwarded).toHaveLength(2);
		expect(await row(id)).toMatchObject({ status: "in_progress" });
	});

	it("refuses unsigned, wrongly signed, tampered and stale deliveries with 401, changing nothing; a replay is a duplicate", async () => {
		const { account, campaignId } = await accountWithAgentPlatform();
		const { id } = await placed(account, { campaignId, to: "+84920000003" });
		const [initiated, answered, hangup] = standin.take() as Webhook[];
		await deliverAll([initiated as Webhook]);
		const body = hangup?.body ?? "";
		const before = await snapshot(id, account.id);
		const good = await signTelnyx(body);
		const other = (await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"])) as CryptoKeyPair;
		const foreign = new Uint8Array(
			await crypto.subtle.sign("Ed25519", other.privateKey, new TextEncoder().encode(`${good["telnyx-timestamp"]}|${body}`)),
		);
		const stale = Math.floor(Date.now() / 1000) - 301;
		const future = Math.floor(Date.now() / 1000) + 301;
		const attempts: [string, string, Record<string, string>][] = [
			["unsigned", body, {}],
			["signature only", body, { "telnyx-signature-ed25519": good["telnyx-signature-ed25519"] }],
			["wrong key", body, { ...good, "telnyx-signature-ed25519": btoa(String.fromCharCode(...foreign)) }],
			["body tampered", body.replace("normal_clearing", "user_busy"), good],
			["timestamp moved", body, { ...good, "telnyx-timestamp": String(Number(good["telnyx-timestamp"]) + 1) }],
			["stale", body, await signTelnyx(body, stale)],
			["from the future", body, await signTelnyx(body, future)],
			["garbage", body, { "telnyx-signature-ed25519": "!!", "telnyx-timestamp": "soon" }],
		];
		for (const [what, text, headers] of attempts) {
			const response = await deliver(call, text, headers);
			expect(response.status, what).toBe(401);
			expect(await response.json()).toEqual({ message: "Invalid or missing Telnyx webhook signature." });
		}
		expect(await snapshot(id, account.id)).toEqual(before);
		expect(standin.forwarded).toHaveLength(0);

		// Correctly signed, twice: applied once; the replay changes nothing and emits nothing.
		expect(await deliverAll([hangup as Webhook])).toEqual(["applied"]);
		const after = await snapshot(id, account.id);
		expect(after.call).toMatchObject({ status: "completed" });
		expect(await deliverAll([hangup as Webhook])).toEqual(["duplicate"]);
		expect(await snapshot(id, account.id)).toEqual(after);
		// A late call.answered moves nothing backwards and forwards nothing.
		expect(await deliverAll([answered as Webhook])).toEqual(["stale"]);
		expect(standin.forwarded).toHaveLength(0);
		expect((await row(id))?.status).toBe("completed");
	});

	it("out of order: hangup before initiated and answered completes the call; the late ones are stale; one call.completed", async () => {
		const { account, campaignId } = await accountWithAgentPlatform();
		const { id } = await placed(account, { campaignId, to: "+84920000004" });
		const [initiated, answered, hangup] = standin.take() as Webhook[];
		expect(await deliverAll([hangup as Webhook, hangup as Webhook, answered as Webhook, initiated as Webhook])).toEqual([
			"applied",
			"duplicate",
			"stale",
			"stale",
		]);
		expect(await row(id)).toMatchObject({ status: "completed", outcome: "completed" });
		expect(await completedEvents(account.id)).toBe(1);
		expect(standin.forwarded).toHaveLength(0);
	});

	it("unanswered, busy and failed calls end with Telnyx's cause as the failure reason", async () => {
		const { account, campaignId } = await accountWithAgentPlatform();
		const expected: [string, string, string][] = [
			["+84920000007", "no_answer", "Telnyx hangup_cause timeout"],
			["+84920000008", "busy", "Telnyx hangup_cause user_busy (SIP 486)"],
			["+84920000009", "failed", "Telnyx hangup_cause not_found (SIP 404)"],
		];
		for (const [to, outcome, reason] of expected) {
			const { id } = await placed(account, { campaignId, to });
			expect(await deliverAll(standin.take())).toEqual(["applied", "applied"]);
			expect(await row(id)).toMatchObject({ status: outcome, outcome, failure_reason: reason, answered_at: null });
		}
	});

	it("machine detection: a machine ends the call as voicemail and is hung up, never handed to the agent; a human is handed over on the detection result", async () => {
		const { account, campaignId } = await accountWithAgentPlatform();
		const machine = await placed(account, { campaignId, to: "+84920000006", machineDetection: true });
		const events = standin.take();
		expect(events.map((w) => w.eventType)).toEqual(["call.initiated", "call.answered", "call.machine.detection.ended"]);
		expect(await deliverAll(events)).toEqual(["applied", "applied", "applied"]);
		expect(await row(machine.id)).toMatchObject({ status: "voicemail", outcome: "voicemail" });
		const hangups = standin.requests.filter((r) => r.path.endsWith("/actions/hangup"));
		expect(hangups).toHaveLength(1);
		expect(hangups[0]?.path).toBe(`/v2/calls/${encodeURIComponent(machine.providerCallId ?? "")}/actions/hangup`);
		expect(hangups[0]?.body).toEqual({ command_id: `${machine.id}:hangup` });
		// Telnyx's hangup that follows changes nothing.
		expect(await deliverAll(standin.take())).toEqual(["stale"]);
		expect(standin.forwarded).toHaveLength(0);

		const human = await placed(account, { campaignId, to: "+84920000005", machineDetection: true });
		const humanEvents = standin.take();
		expect(await deliverAll(humanEvents)).toEqual(["applied", "applied", "stale", "applied"]);
		expect(standin.forwarded).toHaveLength(1);
		expect(JSON.parse(standin.forwarded[0]?.body ?? "{}").data.event_type).toBe("call.machine.detection.ended");
		expect(await row(human.id)).toMatchObject({ status: "completed" });
	});

	it("an account without agent_answer_url: the answered customer is hung up, not left in silence", async () => {
		const { account, campaignId } = await accountWithAgentPlatform();
		await env.DB.prepare("UPDATE accounts SET agent_answer_url = NULL WHERE id = ?").bind(account.id).run();
		const { id, providerCallId } = await placed(account, { campaignId, to: "+84920000011" });
		const [initiated, answered] = standin.take() as Webhook[];
		expect(await deliverAll([initiated as Webhook, answered as Webhook])).toEqual(["applied", "applied"]);
		expect(standin.requests.at(-1)?.path).toBe(`/v2/calls/${encodeURIComponent(providerCallId ?? "")}/actions/hangup`);
		expect(standin.forwarded).toHaveLength(0);
		expect((await row(id))?.status).toBe("in_progress");
	});

	it("events of calls callgate did not place are acknowledged and ignored; an unknown call id is reported", async () => {
		const body = JSON.stringify({
			data: {
				record_type: "event",
				id: crypto.randomUUID(),
				event_type: "call.initiated",
				occurred_at: new Date().toISOString(),
				payload: { call_control_id: "v3:x", client_state: btoa("someone else") },
			},
		});
		expect(await (await deliver(call, body)).json()).toEqual({ result: "ignored" });
		const unknown = body.replace(btoa("someone else"), btoa(crypto.randomUUID()));
		expect(await (await deliver(call, unknown)).json()).toEqual({ result: "unknown-call" });
		expect(await (await deliver(call, '{"not":"an event"}')).json()).toEqual({ result: "ignored" });
	});
});

describe("click-to-call through Telnyx: the agent first, then the customer", () => {
	it("the agent answers: the leg is transferred to the customer from the caller id; the call follows the customer's leg", async () => {
		const account = await pbxAccount();
		const { id, providerCallId } = await placed(account, { to: "+84920000021", agentLeg: "sip:1001@agents.sip.telnyx.com" });
		const agentEvents = standin.take();
		expect(agentEvents.map((w) => w.eventType)).toEqual(["call.initiated", "call.answered"]);
		expect(await deliverAll(agentEvents)).toEqual(["applied", "stale"]);
		expect(await row(id)).toMatchObject({ status: "ringing", provider_call_id: providerCallId });
		const transfers = standin.requests.filter((r) => r.path.endsWith("/actions/transfer"));
		expect(transfers).toHaveLength(1);
		expect(transfers[0]?.path).toBe(`/v2/calls/${encodeURIComponent(providerCallId ?? "")}/actions/transfer`);
		expect(transfers[0]?.body).toEqual({
			to: "+84920000021",
			from: CALLER_ID,
			client_state: btoa(`${id};agent`),
			target_leg_client_state: btoa(`${id};customer`),
			timeout_secs: 30,
			webhook_url: "https://callgate.test/api/webhooks/telnyx",
			webhook_url_method: "POST",
			command_id: `${id}:transfer`,
			time_limit_secs: 810,
		});
		expect(standin.rang).toEqual(["sip:1001@agents.sip.telnyx.com", "+84920000021"]);
		const customerEvents = standin.take();
		expect(customerEvents.map((w) => w.eventType)).toEqual(["call.initiated", "call.answered", "call.hangup", "call.hangup"]);
		// Customer rings (no change), answers (in progress), hangs up (completed); the agent's own hangup changes nothing.
		expect(await deliverAll(customerEvents)).toEqual(["stale", "applied", "applied", "stale"]);
		expect(await row(id)).toMatchObject({ status: "completed", outcome: "completed", provider_call_id: providerCallId });
		expect(await completedEvents(account.id)).toBe(1);
		// A redelivered agent answer transfers nothing again.
		expect(await deliverAll(agentEvents)).toEqual(["duplicate", "duplicate"]);
		expect(standin.requests.filter((r) => r.path.endsWith("/actions/transfer"))).toHaveLength(1);
	});

	it("an agent who never answers ends the call no_answer, and the customer is never rung", async () => {
		const account = await pbxAccount();
		const { id } = await placed(account, { to: "+84920000022", agentLeg: "+84900000007" });
		expect(await deliverAll(standin.take())).toEqual(["applied", "applied"]);
		expect(await row(id)).toMatchObject({
			status: "no_answer",
			failure_reason: "The agent did not answer: Telnyx hangup_cause timeout",
		});
		expect(standin.rang).toEqual(["+84900000007"]);
	});

	it("an agent who answers and hangs up before the customer's leg exists ends the call no_answer at once (not left ringing for the sweep)", async () => {
		const account = await pbxAccount();
		const { id, providerCallId } = await placed(account, { to: "+84920000023", agentLeg: "sip:1002@agents.sip.telnyx.com" });
		const [initiated, answered] = standin.take() as Webhook[];
		expect(await deliverAll([initiated as Webhook])).toEqual(["applied"]);
		// The agent answers and hangs up at once; the call.answered is still on its way (or was refused with a 503).
		standin.hangUp(providerCallId ?? "");
		const [hangup] = standin.take() as Webhook[];
		expect(JSON.parse(hangup?.body ?? "{}").data.payload.hangup_cause).toBe("normal_clearing");
		expect(await deliverAll([hangup as Webhook])).toEqual(["applied"]);
		const ended = await row(id);
		expect(ended).toMatchObject({
			status: "no_answer",
			outcome: "no_answer",
			failure_reason: "The agent hung up before the customer was connected.",
		});
		expect(ended?.ended_at).not.toBeNull();
		expect(await completedEvents(account.id)).toBe(1);
		// The late call.answered transfers nothing: the customer is never rung.
		expect(await deliverAll([answered as Webhook])).toEqual(["stale"]);
		expect(standin.requests.filter((r) => r.path.endsWith("/actions/transfer"))).toHaveLength(0);
		expect(standin.rang).toEqual(["sip:1002@agents.sip.telnyx.com"]);
	});

	it("once the customer's leg exists, the agent hanging up changes nothing: the customer's leg decides", async () => {
		const account = await pbxAccount();
		const { id, providerCallId } = await placed(account, { to: "+84920000024", agentLeg: "+84900000004" });
		standin.hold = true;
		expect(await deliverAll(standin.take())).toEqual(["applied", "stale"]);
		expect(standin.rang).toEqual(["+84900000004", "+84920000024"]);
		const [customerInitiated] = standin.take() as Webhook[];
		// The agent hangs up while the customer's phone rings.
		standin.hangUp(providerCallId ?? "");
		expect(await deliverAll(standin.take())).toEqual(["stale"]);
		expect(await row(id)).toMatchObject({ status: "ringing", ended_at: null, failure_reason: null });
		// The customer's leg reports its own end.
		standin.release();
		expect(await deliverAll([customerInitiated as Webhook, ...standin.take()])).toEqual(["stale", "applied", "applied"]);
		expect(await row(id)).toMatchObject({ status: "completed", outcome: "completed" });
		expect(await completedEvents(account.id)).toBe(1);
	});

	it("a busy customer ends the call busy and the waiting agent is hung up", async () => {
		const account = await pbxAccount();
		const { id, providerCallId } = await placed(account, { to: "+84920000028", agentLeg: "+84900000001" });
		await deliverAll(standin.take());
		const customer = standin.take();
		expect(customer.map((w) => w.eventType)).toEqual(["call.initiated", "call.hangup"]);
		expect(await deliverAll(customer)).toEqual(["stale", "applied"]);
		expect(await row(id)).toMatchObject({ status: "busy", failure_reason: "Telnyx hangup_cause user_busy (SIP 486)" });
		const hangup = standin.requests.at(-1);
		expect(hangup?.path).toBe(`/v2/calls/${encodeURIComponent(providerCallId ?? "")}/actions/hangup`);
		expect(hangup?.body).toEqual({ command_id: `${id}:hangup-agent` });
		expect(await deliverAll(standin.take())).toEqual(["stale"]);
	});

	it("a transfer Telnyx refuses for good fails the call with its reason; one it cannot take now answers 503 and is retried", async () => {
		const account = await pbxAccount();
		const { id } = await placed(account, { to: "+84920000031", agentLeg: "+84900000002" });
		const [initiated, answered] = standin.take() as Webhook[];
		await deliverAll([initiated as Webhook]);
		standin.faults.push({ status: 503, retryAfter: "1" });
		const before = await snapshot(id, account.id);
		const response = await deliver(call, answered?.body ?? "");
		expect(response.status).toBe(503);
		expect(await snapshot(id, account.id)).toEqual(before);
		standin.refuse.add("+84920000031");
		expect(await deliverAll([answered as Webhook])).toEqual(["applied"]);
		expect(await row(id)).toMatchObject({
			status: "failed",
			failure_reason:
				"The customer could not be called: Telnyx 10016: Phone number must be in +E164 format: The 'to' parameter must be in E164 format.",
		});
		expect(standin.requests.at(-1)?.path).toMatch(/\/actions\/hangup$/);
	});
});

describe("Telnyx message webhooks", () => {
	async function queued(account: Account, to: string, providerMessageId: string | null) {
		const id = crypto.randomUUID();
		const now = new Date().toISOString();
		await env.DB.prepare(
			"INSERT INTO sms_messages (id, account_id, to_phone, sender, text, segments, status, created_at, updated_at, provider_message_id) VALUES (?, ?, ?, ?, 'Hi', 1, 'queued', ?, ?, ?)",
		)
			.bind(id, account.id, to, CALLER_ID, now, now, providerMessageId)
			.run();
		return id;
	}
	const sms = (id: string) =>
		env.DB.prepare("SELECT status, failure_reason, provider_message_id, delivered_at FROM sms_messages WHERE id = ?")
			.bind(id)
			.first<Record<string, string | null>>();

	it("sent then delivered, found by Telnyx's message id; replays are duplicates", async () => {
		const account = await pbxAccount();
		const id = await queued(account, "+84920000001", null);
		const result = await telnyxSmsSender(env).send({
			messageId: id,
			accountId: account.id,
			to: "+84920000001",
			from: CALLER_ID,
			text: "Hi",
			firstAskedAt: null,
		});
		const providerMessageId = result.kind === "accepted" ? (result.providerMessageId ?? null) : null;
		await env.DB.prepare("UPDATE sms_messages SET provider_message_id = ? WHERE id = ?").bind(providerMessageId, id).run();
		const events = standin.take();
		expect(events.map((w) => w.eventType)).toEqual(["message.sent", "message.finalized"]);
		expect(await deliverAll(events)).toEqual(["applied", "applied"]);
		expect(await sms(id)).toMatchObject({ status: "delivered", failure_reason: null });
		expect(await deliverAll(events)).toEqual(["duplicate", "duplicate"]);
		expect(await countRows("events", "account_id = ? AND type = 'sms.delivered'", account.id)).toBe(1);
	});

	it("a send whose answer was lost is still found, by the message_id in the signed webhook_url, and its Telnyx id remembered; failures carry Telnyx's error", async () => {
		const account = await pbxAccount();
		const id = await queued(account, "+84920000009", null);
		await telnyxSmsSender(env).send({
			messageId: id,
			accountId: account.id,
			to: "+84920000009",
			from: CALLER_ID,
			text: "Hi",
			firstAskedAt: null,
		});
		const [sent, finalized] = standin.take() as Webhook[];
		// Out of order: the final report first; the late "sent" cannot move it back.
		expect(await deliverAll([finalized as Webhook, sent as Webhook])).toEqual(["applied", "stale"]);
		expect(await sms(id)).toMatchObject({
			status: "failed",
			failure_reason: "Telnyx 40008: Undeliverable: The message could not be delivered to the handset.",
			provider_message_id: [...standin.messages.keys()][0],
		});
		const stranger = (sent?.body ?? "").replaceAll(id, crypto.randomUUID()).replace(/"id":"40318[^"]+"/, '"id":"40318-nobody"');
		expect(await (await deliver(call, stranger)).json()).toEqual({ result: "unknown-message" });
	});
});

describe("a call callgate already closed", () => {
	it("answered late (the call was cancelled or timed out meanwhile): hung up, not handed over or transferred", async () => {
		const { account, campaignId } = await accountWithAgentPlatform();
		const campaignCall = await placed(account, { campaignId, to: "+84920000041" });
		const agentCall = await placed(account, { to: "+84920000042", agentLeg: "+84900000003" });
		await env.DB.prepare("UPDATE calls SET status = 'cancelled', outcome = 'cancelled', ended_at = ? WHERE id IN (?, ?)")
			.bind(new Date().toISOString(), campaignCall.id, agentCall.id)
			.run();
		const answered = standin.take().filter((w) => w.eventType === "call.answered");
		expect(answered).toHaveLength(2);
		expect(await deliverAll(answered)).toEqual(["stale", "stale"]);
		expect(standin.forwarded).toHaveLength(0);
		expect(standin.requests.filter((r) => r.path.endsWith("/actions/transfer"))).toHaveLength(0);
		expect(standin.requests.filter((r) => r.path.endsWith("/actions/hangup")).map((r) => r.path)).toEqual([
			`/v2/calls/${encodeURIComponent(campaignCall.providerCallId ?? "")}/actions/hangup`,
			`/v2/calls/${encodeURIComponent(agentCall.providerCallId ?? "")}/actions/hangup`,
		]);
	});
});

describe("the agent platform's answer: instructions callgate carries out with its own Telnyx key", () => {
	const answerWith = (body: unknown, contentType = "application/json; charset=utf-8") => {
		standin.agentAnswer = { body: typeof body === "string" ? body : JSON.stringify(body), contentType };
	};
	async function answeredCampaignCall(to: string) {
		const { account, campaignId } = await accountWithAgentPlatform();
		// The customer's leg stays up (the stand-in hangs up answered legs at once otherwise) until a hang-up command.
		standin.hold = true;
		const { id, providerCallId } = await placed(account, { campaignId, to });
		standin.hold = false;
		const initiated = standin.take().find((w) => w.eventType === "call.initiated" && w.callControlId === providerCallId);
		await deliverAll([initiated as Webhook]);
		const leg = standin.legs.get(providerCallId ?? "");
		if (!leg) throw new Error("no leg");
		leg.answered = true;
		const answered: Webhook = {
			eventType: "call.answered",
			callControlId: leg.callControlId,
			body: (initiated as Webhook).body
				.replace('"call.initiated"', '"call.answered"')
				.replace(/"id":"[0-9a-f-]{36}"/, `"id":"${crypto.randomUUID()}"`)
				.replace('"state":"bridging"', '"state":"answered"'),
		};
		const eventId = JSON.parse(answered.body).data.id as string;
		return { account, id, providerCallId: providerCallId ?? "", answered, eventId };
	}

	it("transfer, stream, speak and hangup: each sent on the answered leg in order, exactly as Telnyx documents it, with command_id {data.id}:{index}", async () => {
		const { id, providerCallId, answered, eventId } = await answeredCampaignCall("+84920000051");
		answerWith({
			actions: [
				{ type: "speak", text: "Hello, this is Acme calling about your order." },
				{ type: "speak", text: "Xin chào", voice: "AWS.Polly.Joanna-Neural" },
				{ type: "stream", url: "wss://agents.example.com/media?call=1" },
				{ type: "transfer", to: "sip:desk7@pbx.example.com" },
				{ type: "hangup" },
			],
		});
		// The transferred-to leg stays ringing (the stand-in would otherwise play it out at once).
		standin.hold = true;
		expect(await deliverAll([answered])).toEqual(["applied"]);
		expect(standin.forwarded).toHaveLength(1);
		const sent = standin.requests.filter((r) => r.path.startsWith(`/v2/calls/${encodeURIComponent(providerCallId)}/actions/`));
		expect(sent.map((r) => ({ path: r.path.split("/").at(-1), body: r.body, authorization: r.authorization }))).toEqual([
			{
				path: "speak",
				authorization: "Bearer KEYtest-telnyx-api-key",
				body: {
					payload: "Hello, this is Acme calling about your order.",
					payload_type: "text",
					voice: "female",
					command_id: `${eventId}:0`,
				},
			},
			{
				path: "speak",
				authorization: "Bearer KEYtest-telnyx-api-key",
				body: { payload: "Xin chào", payload_type: "text", voice: "AWS.Polly.Joanna-Neural", command_id: `${eventId}:1` },
			},
			{
				path: "streaming_start",
				authorization: "Bearer KEYtest-telnyx-api-key",
				body: {
					stream_url: "wss://agents.example.com/media?call=1",
					stream_track: "inbound_track",
					stream_bidirectional_mode: "rtp",
					stream_bidirectional_codec: "PCMU",
					command_id: `${eventId}:2`,
				},
			},
			{
				path: "transfer",
				authorization: "Bearer KEYtest-telnyx-api-key",
				body: {
					to: "sip:desk7@pbx.example.com",
					from: CALLER_ID,
					target_leg_client_state: btoa(`${id};forwarded`),
					timeout_secs: 30,
					time_limit_secs: 810,
					command_id: `${eventId}:3`,
				},
			},
			{ path: "hangup", authorization: "Bearer KEYtest-telnyx-api-key", body: { command_id: `${eventId}:4` } },
		]);
		expect(await row(id)).toMatchObject({ status: "in_progress", failure_reason: null });
		// The transferred-to leg's events change nothing (ignored); the customer's leg's hangup decides.
		const events = standin.take();
		expect(events.map((w) => w.eventType)).toEqual(["call.initiated", "call.hangup"]);
		expect(await deliverAll(events)).toEqual(["ignored", "applied"]);
		expect(await row(id)).toMatchObject({ status: "completed", outcome: "completed" });
	});

	it('an empty 2xx answer, or {"actions": []}, or one that is not JSON: the platform acts itself, callgate sends nothing', async () => {
		for (const [to, answer] of [
			["+84920000052", null],
			["+84920000053", { body: '{"actions": []}', contentType: "application/json" }],
			["+84920000054", { body: "OK", contentType: "text/plain" }],
		] as const) {
			standin.agentAnswer = answer;
			const { id, providerCallId } = await answeredCampaignCall(to).then(async (c) => {
				expect(await deliverAll([c.answered])).toEqual(["applied"]);
				return c;
			});
			expect(standin.requests.filter((r) => r.path.startsWith(`/v2/calls/${encodeURIComponent(providerCallId)}/`))).toEqual([]);
			expect(await row(id)).toMatchObject({ status: "in_progress" });
		}
	});

	it("an invalid answer hangs the customer up and fails the call with the reason (a 200 to Telnyx, never a 5xx loop)", async () => {
		const cases: [unknown, string][] = [
			[{ actions: [{ type: "stream", url: "https://agents.example.com/media" }] }, "actions.0.url: A wss:// URL."],
			[{ actions: [{ type: "transfer", to: "0920000001" }] }, "actions.0.to: An E.164 number or a sip: URI."],
			[{ actions: Array.from({ length: 6 }, () => ({ type: "hangup" })) }, "actions: Too big: expected array to have <=5 items"],
			[{ actions: [{ type: "dial", to: "+14155550100" }] }, "actions.0.type: Invalid discriminator value"],
			[{ action: [{ type: "hangup" }] }, "actions: Invalid input: expected array, received undefined"],
			["{not json", "the answer is not JSON."],
		];
		for (const [index, [answer, reason]] of cases.entries()) {
			answerWith(answer);
			const { id, providerCallId, answered } = await answeredCampaignCall(`+8492000006${index}`);
			const response = await deliver(call, answered.body);
			expect(response.status, reason).toBe(200);
			const ended = await row(id);
			expect(ended?.status).toBe("failed");
			expect(String(ended?.failure_reason)).toMatch(/^The agent platform's instructions were invalid: /);
			expect(String(ended?.failure_reason), reason).toContain(reason);
			const sent = standin.requests.filter((r) => r.path.startsWith(`/v2/calls/${encodeURIComponent(providerCallId)}/`));
			expect(sent.map((r) => [r.path.split("/").at(-1), r.body])).toEqual([["hangup", { command_id: `${id}:hangup` }]]);
		}
	});

	it("a command Telnyx cannot take now answers 503; the redelivery forwards again and repeats the commands under the same command_ids, so Telnyx carries each out once", async () => {
		const { account, id, providerCallId, answered, eventId } = await answeredCampaignCall("+84920000071");
		answerWith({
			actions: [
				{ type: "speak", text: "One moment please." },
				{ type: "stream", url: "wss://agents.example.com/media" },
			],
		});
		standin.faults.push(null, { status: 503, retryAfter: "1" });
		const before = await snapshot(id, account.id);
		const refused = await deliver(call, answered.body);
		expect(refused.status).toBe(503);
		expect(await snapshot(id, account.id)).toEqual(before);
		expect(standin.carriedOut.map((c) => c.action)).toEqual(["speak"]);

		expect(await deliverAll([answered])).toEqual(["applied"]);
		expect(standin.forwarded).toHaveLength(2);
		const onLeg = () => standin.requests.filter((r) => r.path.startsWith(`/v2/calls/${encodeURIComponent(providerCallId)}/`));
		expect(onLeg().map((r) => r.body?.command_id)).toEqual([`${eventId}:0`, `${eventId}:1`, `${eventId}:0`, `${eventId}:1`]);
		// Telnyx ignored the repeated speak: the customer heard it once, and the stream started once.
		expect(standin.carriedOut.map((c) => [c.action, c.body.command_id])).toEqual([
			["speak", `${eventId}:0`],
			["streaming_start", `${eventId}:1`],
		]);
		expect(await row(id)).toMatchObject({ status: "in_progress" });
		// Delivered once more after it was applied: a duplicate, forwarded and sent nothing.
		expect(await deliverAll([answered])).toEqual(["duplicate"]);
		expect(standin.forwarded).toHaveLength(2);
		expect(onLeg()).toHaveLength(4);
	});

	it("a command Telnyx refuses for good ends the call failed with Telnyx's reason; the rest are not sent", async () => {
		const { id, providerCallId, answered } = await answeredCampaignCall("+84920000072");
		answerWith({
			actions: [
				{ type: "transfer", to: "+14155550199" },
				{ type: "speak", text: "never said" },
			],
		});
		standin.refuse.add("+14155550199");
		expect(await deliverAll([answered])).toEqual(["applied"]);
		expect(await row(id)).toMatchObject({
			status: "failed",
			failure_reason:
				"The agent platform's instructions could not be carried out: action 1 (transfer): Telnyx 10016: Phone number must be in +E164 format: The 'to' parameter must be in E164 format.",
		});
		const sent = standin.requests.filter((r) => r.path.startsWith(`/v2/calls/${encodeURIComponent(providerCallId)}/`));
		expect(sent.map((r) => r.path.split("/").at(-1))).toEqual(["transfer", "hangup"]);
	});
});

describe("malformed deliveries never answer 5xx", () => {
	it("not JSON, a client_state that is not base64, odd message payloads and a garbage timestamp answer 4xx or 200", async () => {
		const statuses: Record<string, number> = {};
		const probe = async (name: string, body: string, headers: Record<string, string>) => {
			const response = await call("/api/webhooks/telnyx", {
				method: "POST",
				rawBody: body,
				headers,
				unvalidated: "malformed Telnyx deliveries",
			});
			statuses[name] = response.status;
		};
		await probe("not json", "not json", await signTelnyx("not json"));
		const badState = JSON.stringify({
			data: {
				id: "e1",
				event_type: "call.answered",
				occurred_at: new Date().toISOString(),
				payload: { client_state: "%%%not-base64", call_control_id: "v3:x" },
			},
		});
		await probe("bad client_state", badState, await signTelnyx(badState));
		const oddMessage = JSON.stringify({
			data: { id: "e2", event_type: "message.finalized", occurred_at: "2030-01-01T00:00:00Z", payload: { to: "x", errors: 5 } },
		});
		await probe("odd message", oddMessage, await signTelnyx(oddMessage));
		await probe("bad timestamp", "{}", { "telnyx-signature-ed25519": "x", "telnyx-timestamp": "1e99" });
		expect(statuses).toEqual({ "not json": 200, "bad client_state": 200, "odd message": 200, "bad timestamp": 401 });
	});
});
