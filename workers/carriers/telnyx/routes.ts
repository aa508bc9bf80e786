import { z } from "zod";
import { FINAL_OUTCOMES } from "../../../durable-objects/campaign/pacing";
import type { DialResult } from "../../dialer/dial-result";
import { applyProviderEvent } from "../../dialer/provider-events";
import { readBodyText } from "../../http/body";
import { ApiError } from "../../http/errors";
import { publicRoute, type Route } from "../../routing/route";
import { applySmsCallback } from "../../sms/routes";
import { TELNYX_WEBHOOK_PATH, webhookUrl } from "./api";
import { encodeClientState, messageReport, TelnyxEnvelope, type VoiceStep, voiceStep } from "./events";
import { TELNYX_SIGNATURE_HEADER, TELNYX_TIMESTAMP_HEADER, verifyTelnyxSignature } from "./signature";
import { callCommand, RING_TIMEOUT_SECONDS, transferTimeLimitSeconds } from "./voice";

/** Telnyx's events are small (a call event is ~1 KB, a message one carries its text): generous, bounded. */
const MAX_WEBHOOK_BYTES = 256 * 1024;
/** How long the agent platform may take to accept a forwarded call.answered. */
const FORWARD_TIMEOUT_MS = 10_000;
/** The agent platform's answer is a handful of instructions: bounded. */
const MAX_INSTRUCTIONS_BYTES = 64 * 1024;
const MAX_INSTRUCTIONS = 5;
const PROVIDER = "telnyx";
const FINAL = new Set<string>(FINAL_OUTCOMES);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const Result = z.enum(["applied", "duplicate", "stale", "unknown-call", "unknown-message", "ignored"]);
type Result = z.infer<typeof Result>;

/** Telnyx redelivers on any non-2xx: a 503 says the effect did not happen yet, so deliver it again. */
const notYet = (what: string) => new ApiError(503, `${what} Deliver the event again.`);

const E164 = /^\+[1-9]\d{6,14}$/;
const SIP_URI = /^sips?:[^\s@<>"]+@[^\s<>"]+$/i;
const isWss = (value: string) => {
	try {
		return new URL(value).protocol === "wss:";
	} catch {
		return false;
	}
};

/** One instruction of the agent platform's answer (see the route's JSDoc for the contract). */
const Instruction = z.discriminatedUnion("type", [
	z.strictObject({
		type: z.literal("transfer"),
		to: z
			.string()
			.max(256)
			.refine((to) => E164.test(to) || SIP_URI.test(to), "An E.164 number or a sip: URI."),
	}),
	z.strictObject({ type: z.literal("stream"), url: z.string().max(2048).refine(isWss, "A wss:// URL.") }),
	z.strictObject({
		type: z.literal("speak"),
		text: z.string().trim().min(1).max(3000),
		voice: z
			.string()
			.regex(/^[A-Za-z0-9._:-]{1,100}$/, "A Telnyx voice name, e.g. female or AWS.Polly.Joanna-Neural.")
			.optional(),
	}),
	z.strictObject({ type: z.literal("hangup") }),
]);
type Instruction = z.infer<typeof Instruction>;
const Instructions = z.strictObject({ actions: z.array(Instruction).max(MAX_INSTRUCTIONS) });

/** The voice of a `speak` instruction that names none (Telnyx's basic voice). */
export const DEFAULT_SPEAK_VOICE = "female";

/**
 * POST /api/webhooks/telnyx: Telnyx's Call Control and Messaging webhooks.
 *
 * **A campaign call answered by a person** (call.answered, or with machine detection on
 * call.machine.detection.ended with a human result) is forwarded, byte for byte with both
 * Telnyx signature headers, as `POST {agent_answer_url}?agent_id={campaign's agent_id}&call_id={callgate's call id}`.
 * The agent platform has no Telnyx API key (the carrier account is the operator's), so its
 * answer is its instructions, which callgate carries out on the call with its own key:
 *
 * - **2xx with an empty body** (or a body that is not `application/json`): the platform acts
 *   itself, by its own means; callgate does nothing more.
 * - **2xx, `Content-Type: application/json`**: exactly `{"actions": [...]}`, at most 5 actions,
 *   carried out in order on the answered leg (`POST /v2/calls/{call_control_id}/actions/…`), each
 *   with `command_id` `{data.id}:{index}` (index from 0), so a redelivered webhook repeats nothing
 *   Telnyx already did:
 *   - `{"type": "transfer", "to": "+E164" | "sip:user@host"}` → `transfer` with `to`, `from` = the
 *     call's caller id, `timeout_secs` 30 and `time_limit_secs` (MAX_CALL_SECONDS − 90, at least 60);
 *     the new leg is tagged so its events change nothing (the customer's leg decides the call);
 *   - `{"type": "stream", "url": "wss://…"}` → `streaming_start` with `stream_url`,
 *     `stream_track` `inbound_track`, `stream_bidirectional_mode` `rtp`,
 *     `stream_bidirectional_codec` `PCMU` (the platform hears the customer and may speak back on
 *     the same WebSocket);
 *   - `{"type": "speak", "text": "…" (1–3000 characters), "voice"?: "…" (default `female`)}` →
 *     `speak` with `payload`, `payload_type` `text` and `voice`;
 *   - `{"type": "hangup"}` → `hangup`.
 *
 *   `{"actions": []}` does nothing (as an empty body).
 * - **An invalid answer** (not JSON, unknown keys or types, more than 5 actions, a `to` that is
 *   neither E.164 nor a sip: URI, a stream URL not wss://, over 64 KiB): the customer is hung up
 *   and the call ends `failed` with failure_reason "The agent platform's instructions were
 *   invalid: …". A command Telnyx refuses for good (a 4xx) ends it the same way ("The agent
 *   platform's instructions could not be carried out: …"); the remaining actions are not sent.
 * - **Not 2xx, no answer within 10 s, or a command Telnyx could not take now** (network, 408, 429,
 *   5xx): this route answers 503, so Telnyx delivers the event again; the forward is repeated (the
 *   platform dedupes by `data.id` and must answer the same instructions) and so are the commands,
 *   which Telnyx ignores when it already took them (same `command_id`).
 *
 * **A click-to-call**: the agent's leg is transferred to the customer when it answers; the agent
 * hanging up before the customer's leg exists ends the call `no_answer` ("The agent hung up
 * before the customer was connected."); after that the customer's leg decides.
 */
const telnyxWebhook = publicRoute({
	method: "POST",
	path: TELNYX_WEBHOOK_PATH,
	summary:
		"Call Control and Messaging webhooks from Telnyx (API v2, JSON). Verified with `telnyx-signature-ed25519` (base64 Ed25519 signature of `{telnyx-timestamp}|{raw body}`, checked with TELNYX_PUBLIC_KEY) and a timestamp within 300 s; deduplicated by `data.id`; calls only move forward. A campaign call's call.answered is forwarded as Telnyx sent it (body and both signature headers) to the account's agent_answer_url with `agent_id` and `call_id` added; the platform's 2xx answer may be JSON instructions `{\"actions\": [...]}` (at most 5 of transfer, stream, speak, hangup) that callgate carries out on the call, each with command_id `{data.id}:{index}`; an invalid answer hangs the call up (failed). A click-to-call's agent leg is transferred to the customer when it answers. A 5xx means the event was not applied (or its forward or command did not happen): Telnyx delivers it again.",
	tags: ["webhooks"],
	headers: [TELNYX_SIGNATURE_HEADER, TELNYX_TIMESTAMP_HEADER],
	responses: {
		200: {
			description:
				"Applied, a duplicate, stale (the call or message is already further along), for a call or message callgate does not know, or ignored (an event with no bearing on callgate's state)",
			schema: z.object({ result: Result }),
		},
		400: { description: "The body is not UTF-8" },
		401: { description: "Missing, malformed, wrongly signed or stale (over 300 s) signature" },
		413: { description: "Body over 256 KiB" },
		500: { description: "Not applied: Telnyx delivers it again" },
		503: {
			description:
				"The agent platform did not take the call, or a Telnyx command (the transfer, or one of the platform's instructions) failed for now: Telnyx delivers it again",
		},
	},
	async handler({ env, request }) {
		const raw = await readBodyText(request, MAX_WEBHOOK_BYTES);
		const signature = request.headers.get(TELNYX_SIGNATURE_HEADER);
		const timestamp = request.headers.get(TELNYX_TIMESTAMP_HEADER);
		const check = await verifyTelnyxSignature(env.TELNYX_PUBLIC_KEY, raw, signature, timestamp);
		if (!check.ok) throw new ApiError(401, "Invalid or missing Telnyx webhook signature.");
		let parsed: unknown;
		try {
			parsed = JSON.parse(raw);
		} catch {
			parsed = undefined;
		}
		const envelope = TelnyxEnvelope.safeParse(parsed);
		// Signed by Telnyx but not an event we read: acknowledged, or Telnyx would send it forever.
		if (!envelope.success) return Response.json({ result: "ignored" });
		const { event_type } = envelope.data.data;
		const result: Result = event_type.startsWith("message.")
			? await onMessage(env, envelope.data)
			: await onCall(env, envelope.data, { raw, signature: signature ?? "", timestamp: timestamp ?? "" });
		return Response.json({ result });
	},
});

export const telnyxRoutes: Route[] = [telnyxWebhook];

interface CallRow {
	id: string;
	status: string;
	to_phone: string;
	caller_id: string | null;
	answered_at: string | null;
	provider_call_id: string | null;
	agent_answer_url: string | null;
	agent_id: string | null;
}

const recorded = async (env: Env, eventId: string) =>
	(await env.DB.prepare("SELECT 1 AS seen FROM provider_events WHERE provider = ? AND event_id = ?")
		.bind(PROVIDER, eventId)
		.first()) !== null;

/**
 * One call event: its side effect first (forward, transfer), only the first time it is seen, and
 * only while the call is open; then the status, recorded with the event id in one batch
 * (applyProviderEvent); then hang-ups, which are safe to repeat, so a redelivery after a failed
 * hang-up repeats it. A side effect that failed answers 5xx before anything is recorded.
 * A side effect that succeeded before the record failed is repeated by the redelivery: a
 * transfer carries a command_id (Telnyx ignores the repeat within 60 s, and retries its
 * deliveries within that), a forward reaches the agent platform again (it dedupes by `data.id`).
 */
async function onCall(
	env: Env,
	envelope: TelnyxEnvelope,
	signed: { raw: string; signature: string; timestamp: string },
): Promise<Result> {
	const step = voiceStep(envelope);
	if (!step) return "ignored";
	const call = await env.DB.prepare(
		`SELECT c.id, c.status, c.to_phone, c.caller_id, c.answered_at, c.provider_call_id, a.agent_answer_url, k.agent_id
		   FROM calls c JOIN accounts a ON a.id = c.account_id LEFT JOIN autocall_campaigns k ON k.id = c.campaign_id
		  WHERE c.id = ?`,
	)
		.bind(step.callId)
		.first<CallRow>();
	if (!call) return "unknown-call";
	const { id: eventId, occurred_at } = envelope.data;
	const at = new Date(occurred_at).toISOString();
	let { status, failureReason } = step;
	let hangUp: string | null = step.action === "hangup" ? step.callControlId : null;
	let hangUpAgent = step.action === "hangup-agent";
	// Any event of the customer's leg shows it exists (its transfer was taken, even if that answer was lost).
	if (step.leg === "customer") await markCustomerLeg(env, call.id);
	// The agent's leg ended: after the customer's leg exists, the customer's own hangup decides.
	if (step.action === "agent-gone" && (await customerLegExists(env, call.id))) {
		status = "ringing";
		failureReason = undefined;
	}
	// Answered after callgate closed the call (cancelled, timed out): nobody will take it, so hang it up.
	if (FINAL.has(call.status) && (step.action === "forward" || step.action === "transfer")) hangUp = step.callControlId;
	if (!FINAL.has(call.status) && !(await recorded(env, eventId))) {
		if (step.action === "forward") {
			if (call.agent_answer_url) {
				const answer = await forward(call, signed);
				let refused: string | null = null;
				if (answer.kind === "invalid") refused = `The agent platform's instructions were invalid: ${answer.reason}`;
				if (answer.kind === "refused") refused = `The agent platform refused the call: ${answer.reason}`;
				if (answer.kind === "actions") {
					const why = await carryOut(env, call, step, eventId, answer.actions);
					if (why) refused = `The agent platform's instructions could not be carried out: ${why}`;
				}
				if (refused) {
					status = "failed";
					failureReason = oneLine(refused);
					hangUp = step.callControlId;
				}
			} else {
				// Nobody to hand the customer to: hang up rather than leave them in silence.
				console.warn("telnyx: campaign call answered but the account has no agent_answer_url", call.id);
				hangUp = step.callControlId;
			}
		}
		if (step.action === "transfer") {
			const refused = await transferToCustomer(env, call, step);
			if (refused) {
				status = "failed";
				failureReason = `The customer could not be called: ${refused}`.slice(0, 200);
				hangUp = step.callControlId;
			}
		}
	}
	const answeredAt = call.answered_at ? Date.parse(call.answered_at) : Number.NaN;
	const duration =
		status === "completed" && !Number.isNaN(answeredAt)
			? Math.max(0, Math.round((Date.parse(at) - answeredAt) / 1000))
			: undefined;
	const result = await applyProviderEvent(
		env,
		{
			event_id: eventId,
			call_id: call.id,
			status,
			occurred_at: at,
			...(duration === undefined ? {} : { duration_seconds: Math.min(duration, 86_400) }),
			...(failureReason ? { failure_reason: failureReason } : {}),
			// The leg callgate dialled (the customer's for a campaign, the agent's for a click-to-call).
			...(step.callControlId && step.leg !== "customer" ? { provider_call_id: step.callControlId } : {}),
		},
		PROVIDER,
	);
	if (hangUpAgent && !call.provider_call_id) hangUpAgent = false;
	await Promise.all([
		hangUp ? hangup(env, hangUp, `${call.id}:hangup`) : undefined,
		hangUpAgent && call.provider_call_id ? hangup(env, call.provider_call_id, `${call.id}:hangup-agent`) : undefined,
	]);
	return result;
}

type PlatformAnswer =
	| { kind: "none" }
	| { kind: "actions"; actions: Instruction[] }
	| { kind: "invalid"; reason: string }
	/** It will not take the call, whatever the redelivery (a 3xx or a 4xx but 408 and 429; a URL that is not one). */
	| { kind: "refused"; reason: string };

/**
 * The answered event, byte for byte with Telnyx's signature, so the agent platform can verify it with
 * Telnyx's public key; its 2xx answer read as instructions (see the route's JSDoc). Throws (503) when
 * the platform did not take it.
 */
async function forward(call: CallRow, signed: { raw: string; signature: string; timestamp: string }): Promise<PlatformAnswer> {
	let url: URL;
	try {
		url = new URL(call.agent_answer_url ?? "");
	} catch {
		return { kind: "refused", reason: "the account's agent_answer_url is not a URL." };
	}
	url.searchParams.set("agent_id", call.agent_id ?? "");
	url.searchParams.set("call_id", call.id);
	let response: Response;
	try {
		response = await fetch(url, {
			method: "POST",
			headers: {
				"Content-Type": "application/json",
				[TELNYX_SIGNATURE_HEADER]: signed.signature,
				[TELNYX_TIMESTAMP_HEADER]: signed.timestamp,
			},
			body: signed.raw,
			redirect: "manual",
			signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
		});
	} catch {
		throw notYet("The agent platform could not be reached.");
	}
	if (response.status < 200 || response.status >= 300) {
		await response.body?.cancel();
		// Only a failure that may pass is worth Telnyx's redelivery; the answered customer must not wait out the others.
		const mayPass = response.status >= 500 || response.status === 408 || response.status === 429;
		if (!mayPass) return { kind: "refused", reason: `HTTP ${response.status}.` };
		throw notYet(`The agent platform answered ${response.status}.`);
	}
	const type = (response.headers.get("Content-Type") ?? "").split(";")[0]?.trim().toLowerCase();
	if (type !== "application/json") {
		await response.body?.cancel();
		return { kind: "none" };
	}
	let text: string | null;
	try {
		text = await boundedText(response, MAX_INSTRUCTIONS_BYTES);
	} catch {
		throw notYet("The agent platform's answer could not be read.");
	}
	if (text === null) return { kind: "invalid", reason: `the answer is larger than ${MAX_INSTRUCTIONS_BYTES / 1024} KiB.` };
	if (text.trim() === "") return { kind: "none" };
	let parsed: unknown;
	try {
		parsed = JSON.parse(text);
	} catch {
		return { kind: "invalid", reason: "the answer is not JSON." };
	}
	const instructions = Instructions.safeParse(parsed);
	if (!instructions.success) {
		const issue = instructions.error.issues[0];
		const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
		return { kind: "invalid", reason: `${where}${issue?.message ?? 'not {"actions": [...]}'}` };
	}
	return instructions.data.actions.length ? { kind: "actions", actions: instructions.data.actions } : { kind: "none" };
}

/** The body as UTF-8 text, or null past maxBytes (invalid UTF-8 becomes U+FFFD, and then fails validation). */
async function boundedText(response: Response, maxBytes: number): Promise<string | null> {
	if (Number(response.headers.get("Content-Length") ?? "0") > maxBytes) {
		await response.body?.cancel();
		return null;
	}
	if (!response.body) return "";
	const reader = response.body.getReader();
	const decoder = new TextDecoder();
	let size = 0;
	let text = "";
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		size += value.byteLength;
		if (size > maxBytes) {
			await reader.cancel();
			return null;
		}
		text += decoder.decode(value, { stream: true });
	}
	return text + decoder.decode();
}

/**
 * The agent platform's instructions, in order, on the answered leg, each with the command_id
 * `{event id}:{index}` (a redelivery repeats them and Telnyx ignores the ones it took). Answers the
 * reason when Telnyx refused one for good (the rest are not sent); throws (503) when one may work later.
 */
async function carryOut(
	env: Env,
	call: CallRow,
	step: VoiceStep,
	eventId: string,
	actions: Instruction[],
): Promise<string | null> {
	if (!step.callControlId) return "Telnyx sent no call_control_id for the call.";
	for (const [index, action] of actions.entries()) {
		const what = `action ${index + 1} (${action.type})`;
		const command = commandFor(env, call, action);
		if (typeof command === "string") return `${what}: ${command}`;
		const result = await callCommand(env, step.callControlId, command.action, {
			...command.body,
			command_id: `${eventId}:${index}`,
		});
		if (result.kind === "permanent") return `${what}: ${result.reason}`;
		if (result.kind === "transient") throw notYet(`Telnyx did not take the agent platform's ${what}: ${result.reason}`);
	}
	return null;
}

/** The Call Control command for one instruction, or why it cannot be sent. */
function commandFor(
	env: Env,
	call: CallRow,
	action: Instruction,
): { action: "transfer" | "streaming_start" | "speak" | "hangup"; body: Record<string, unknown> } | string {
	switch (action.type) {
		case "transfer":
			if (!call.caller_id) return "No caller id to present.";
			return {
				action: "transfer",
				body: {
					to: action.to,
					from: call.caller_id,
					target_leg_client_state: encodeClientState(call.id, "forwarded"),
					timeout_secs: RING_TIMEOUT_SECONDS,
					time_limit_secs: transferTimeLimitSeconds(env),
				},
			};
		case "stream":
			return {
				action: "streaming_start",
				body: {
					stream_url: action.url,
					stream_track: "inbound_track",
					stream_bidirectional_mode: "rtp",
					stream_bidirectional_codec: "PCMU",
				},
			};
		case "speak":
			return {
				action: "speak",
				body: { payload: action.text, payload_type: "text", voice: action.voice ?? DEFAULT_SPEAK_VOICE },
			};
		case "hangup":
			return { action: "hangup", body: {} };
	}
}

const oneLine = (text: string) => {
	const line = text.replace(/\s+/g, " ").trim();
	return line.length > 200 ? `${line.slice(0, 199)}…` : line;
};

/** A marker, kept with the event ids, that the customer's leg of a click-to-call exists. */
const customerLegMarker = (callId: string) => `${callId}:customer-leg`;
async function markCustomerLeg(env: Env, callId: string): Promise<void> {
	await env.DB.prepare("INSERT OR IGNORE INTO provider_events (event_id, provider, received_at) VALUES (?, ?, ?)")
		.bind(customerLegMarker(callId), PROVIDER, new Date().toISOString())
		.run();
}
const customerLegExists = (env: Env, callId: string) => recorded(env, customerLegMarker(callId));

/**
 * The agent answered: bridge the customer (`POST /v2/calls/{agent leg}/actions/transfer`, to the
 * customer from the call's caller id; `target_leg_client_state` tags the new leg so its webhooks
 * map back). Answers Telnyx's reason when it refused for good; throws (5xx) when it may work later.
 */
async function transferToCustomer(env: Env, call: CallRow, step: VoiceStep): Promise<string | null> {
	if (!step.callControlId) return "Telnyx sent no call_control_id for the agent's leg.";
	if (!call.caller_id) return "No caller id to present to the customer.";
	const result: DialResult = await callCommand(env, step.callControlId, "transfer", {
		to: call.to_phone,
		from: call.caller_id,
		client_state: encodeClientState(call.id, "agent"),
		target_leg_client_state: encodeClientState(call.id, "customer"),
		timeout_secs: RING_TIMEOUT_SECONDS,
		webhook_url: webhookUrl(env),
		webhook_url_method: "POST",
		command_id: `${call.id}:transfer`,
		time_limit_secs: transferTimeLimitSeconds(env),
	});
	if (result.kind === "accepted") {
		await markCustomerLeg(env, call.id);
		return null;
	}
	if (result.kind === "permanent") return result.reason;
	throw notYet(`Telnyx did not take the transfer: ${result.reason}`);
}

/** Hangs a leg up; a leg already gone (Telnyx 90018, any 4xx) is fine, a 5xx or no answer is tried again by the redelivery. */
async function hangup(env: Env, callControlId: string, commandId: string): Promise<void> {
	const result = await callCommand(env, callControlId, "hangup", { command_id: commandId });
	if (result.kind === "transient") throw notYet(`Telnyx did not take the hang-up: ${result.reason}`);
}

/** A delivery report: found by Telnyx's message id, or by the message_id callgate put in the (signed) webhook_url. */
async function onMessage(env: Env, envelope: TelnyxEnvelope): Promise<Result> {
	const report = messageReport(envelope);
	if (!report) return "ignored";
	let messageId: string | null = null;
	if (report.providerMessageId) {
		messageId =
			(
				await env.DB.prepare("SELECT id FROM sms_messages WHERE provider_message_id = ?")
					.bind(report.providerMessageId)
					.first<{ id: string }>()
			)?.id ?? null;
	}
	if (!messageId && report.webhookUrl) {
		const named = messageIdIn(report.webhookUrl);
		if (named) {
			messageId =
				(await env.DB.prepare("SELECT id FROM sms_messages WHERE id = ?").bind(named).first<{ id: string }>())?.id ?? null;
			// Remember Telnyx's id, so the next report is found directly.
			if (messageId && report.providerMessageId) {
				await env.DB.prepare("UPDATE sms_messages SET provider_message_id = coalesce(provider_message_id, ?) WHERE id = ?")
					.bind(report.providerMessageId, messageId)
					.run();
			}
		}
	}
	if (!messageId) return "unknown-message";
	return applySmsCallback(
		env,
		{
			event_id: report.event_id,
			message_id: messageId,
			status: report.status,
			occurred_at: report.occurred_at,
			...(report.failure_reason ? { failure_reason: report.failure_reason } : {}),
		},
		PROVIDER,
	);
}

function messageIdIn(url: string): string | null {
	try {
		const parsed = new URL(url);
		const id = parsed.searchParams.get("message_id");
		return parsed.pathname === TELNYX_WEBHOOK_PATH && id && UUID.test(id) ? id.toLowerCase() : null;
	} catch {
		return null;
	}
}
