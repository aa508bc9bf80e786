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
import { callCommand, RING_TIMEOUT_SECONDS } from "./voice";

/** Telnyx's events are small (a call event is ~1 KB, a message one carries its text): generous, bounded. */
const MAX_WEBHOOK_BYTES = 256 * 1024;
/** How long the agent platform may take to accept a forwarded call.answered. */
const FORWARD_TIMEOUT_MS = 10_000;
const PROVIDER = "telnyx";
const FINAL = new Set<string>(FINAL_OUTCOMES);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const Result = z.enum(["applied", "duplicate", "stale", "unknown-call", "unknown-message", "ignored"]);
type Result = z.infer<typeof Result>;

/** Telnyx redelivers on any non-2xx: a 503 says the effect did not happen yet, so deliver it again. */
const notYet = (what: string) => new ApiError(503, `${what} Deliver the event again.`);

const telnyxWebhook = publicRoute({
	method: "POST",
	path: TELNYX_WEBHOOK_PATH,
	summary:
		"Call Control and Messaging webhooks from Telnyx (API v2, JSON). Verified with `telnyx-signature-ed25519` (base64 Ed25519 signature of `{telnyx-timestamp}|{raw body}`, checked with TELNYX_PUBLIC_KEY) and a timestamp within 300 s; deduplicated by `data.id`; calls only move forward. A campaign call's call.answered is forwarded as Telnyx sent it (body and both signature headers) to the account's agent_answer_url with `agent_id` and `call_id` added; a click-to-call's agent leg is transferred to the customer when it answers. A 5xx means the event was not applied (or its forward or command did not happen): Telnyx delivers it again.",
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
			description: "The agent platform did not take the call, or a Telnyx command failed for now: Telnyx delivers it again",
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
	// Answered after callgate closed the call (cancelled, timed out): nobody will take it, so hang it up.
	if (FINAL.has(call.status) && (step.action === "forward" || step.action === "transfer")) hangUp = step.callControlId;
	if (!FINAL.has(call.status) && !(await recorded(env, eventId))) {
		if (step.action === "forward") {
			if (call.agent_answer_url) await forward(call, signed);
			else {
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

/** The answered event, byte for byte with Telnyx's signature, so the agent platform can verify it with Telnyx's public key. */
async function forward(call: CallRow, signed: { raw: string; signature: string; timestamp: string }): Promise<void> {
	let url: URL;
	try {
		url = new URL(call.agent_answer_url ?? "");
	} catch {
		throw notYet("The account's agent_answer_url is not a URL.");
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
	await response.body?.cancel();
	if (response.status < 200 || response.status >= 300) throw notYet(`The agent platform answered ${response.status}.`);
}

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
	});
	if (result.kind === "accepted") return null;
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
