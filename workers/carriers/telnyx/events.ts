import { z } from "zod";
import type { ProviderEvent } from "../../dialer/provider-events";
import type { SmsReport } from "../../sms/routes";

/**
 * Telnyx webhooks (API v2), mapped onto callgate's call and SMS states. Pure: no I/O, so every
 * mapping is unit-tested. The route (routes.ts) does the lookups and side effects.
 *
 * Envelope: `{"data": {"record_type": "event", "id", "event_type", "occurred_at", "payload"}, "meta": {...}}`.
 * `data.id` is the event's id: duplicates (Telnyx delivers at least once) carry the same one.
 */
export const TelnyxEnvelope = z.object({
	data: z.object({
		id: z.string().min(1).max(200),
		event_type: z.string().min(1).max(100),
		occurred_at: z.string().refine((value) => !Number.isNaN(Date.parse(value)), "An ISO 8601 instant."),
		payload: z.record(z.string(), z.unknown()).default({}),
	}),
});
export type TelnyxEnvelope = z.infer<typeof TelnyxEnvelope>;

/**
 * Which leg of a callgate call a Telnyx call leg is. `client_state` (base64, echoed by Telnyx in
 * every webhook of the leg) carries callgate's call id, and for anything but a plain campaign
 * call a tag after `;`:
 * - `campaign`: a campaign call without machine detection: base64 of the bare call id;
 * - `campaign-amd`: a campaign call with answering-machine detection (`<id>;amd`);
 * - `agent`: a click-to-call's first leg, to the agent (`<id>;agent`);
 * - `customer`: a click-to-call's second leg, created by the transfer when the agent answered (`<id>;customer`);
 * - `forwarded`: the leg an agent platform's `transfer` instruction created from a campaign call
 *   (`<id>;forwarded`): its events change nothing (the campaign call's own leg decides).
 */
export type Leg = "campaign" | "campaign-amd" | "agent" | "customer" | "forwarded";
const TAGS: Record<Leg, string> = {
	campaign: "",
	"campaign-amd": "amd",
	agent: "agent",
	customer: "customer",
	forwarded: "forwarded",
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeClientState(callId: string, leg: Leg): string {
	const tag = TAGS[leg];
	return btoa(tag ? `${callId};${tag}` : callId);
}

/** The call and leg a client_state names; null for a state callgate did not write (another app's call). */
export function decodeClientState(state: unknown): { callId: string; leg: Leg } | null {
	if (typeof state !== "string" || state.length === 0 || state.length > 200) return null;
	let text: string;
	try {
		text = atob(state);
	} catch {
		return null;
	}
	const [callId = "", tag = "", ...rest] = text.split(";");
	if (rest.length || !UUID.test(callId)) return null;
	const leg = (Object.keys(TAGS) as Leg[]).find((candidate) => TAGS[candidate] === tag);
	return leg ? { callId: callId.toLowerCase(), leg } : null;
}

/** What the route does besides recording the status. */
export type VoiceAction =
	/** Forward this webhook, as Telnyx sent it, to the account's agent_answer_url: the agent platform takes the call. */
	| "forward"
	/** The agent answered: transfer the leg to the customer. */
	| "transfer"
	/** A machine answered: hang this leg up. */
	| "hangup"
	/** The customer's leg ended without an answer: hang up the agent, who is still waiting. */
	| "hangup-agent"
	/**
	 * The agent's leg ended: the call ends with it unless the customer's leg already exists (the
	 * transfer was taken), in which case the customer's own hangup decides and this changes nothing.
	 */
	| "agent-gone";

export const AGENT_HUNG_UP = "The agent hung up before the customer was connected.";

export interface VoiceStep {
	callId: string;
	leg: Leg;
	callControlId: string | null;
	/** The callgate status this event moves the call to (never backwards: applyProviderEvent decides). */
	status: ProviderEvent["status"];
	failureReason?: string;
	action?: VoiceAction;
}

const MAX_REASON = 200;
const oneLine = (text: string) => {
	const line = text.replace(/\s+/g, " ").trim();
	return line.length > MAX_REASON ? `${line.slice(0, MAX_REASON - 1)}…` : line;
};
const str = (value: unknown) => (typeof value === "string" && value.length ? value : undefined);

/**
 * `call.hangup`'s documented `hangup_cause` values (call_rejected, normal_clearing,
 * originator_cancel, timeout, time_limit, user_busy, not_found, no_answer, unspecified) for the
 * leg that reaches the customer. normal_clearing ends an answered call (Telnyx reports the
 * unanswered ones with another cause), time_limit one that reached `time_limit_secs`.
 * A cause not in the list fails the call with the cause as reason.
 */
const CUSTOMER_HANGUP: Record<string, ProviderEvent["status"]> = {
	normal_clearing: "completed",
	time_limit: "completed",
	user_busy: "busy",
	call_rejected: "busy",
	timeout: "no_answer",
	no_answer: "no_answer",
	originator_cancel: "cancelled",
	not_found: "failed",
	unspecified: "failed",
};

function hangupReason(payload: Record<string, unknown>, prefix = ""): string {
	const cause = str(payload.hangup_cause) ?? "unspecified";
	const sip = str(payload.sip_hangup_cause);
	return oneLine(`${prefix}Telnyx hangup_cause ${cause}${sip && sip !== "unspecified" ? ` (SIP ${sip})` : ""}`);
}

/**
 * One call webhook → what it means for callgate's call; null when it is not about a call
 * callgate placed (no client_state of ours) or has no bearing on its status (call.bridged,
 * recordings, greetings…).
 */
export function voiceStep(envelope: TelnyxEnvelope): VoiceStep | null {
	const { event_type: type, payload } = envelope.data;
	const owner = decodeClientState(payload.client_state);
	if (!owner || owner.leg === "forwarded") return null;
	const base = { callId: owner.callId, leg: owner.leg, callControlId: str(payload.call_control_id) ?? null };
	const campaign = owner.leg === "campaign" || owner.leg === "campaign-amd";
	switch (type) {
		// Call Control has no separate ringing event: call.initiated is the leg being placed.
		case "call.initiated":
			return { ...base, status: "ringing" };
		case "call.answered":
			if (owner.leg === "agent") return { ...base, status: "ringing", action: "transfer" };
			if (owner.leg === "campaign") return { ...base, status: "in_progress", action: "forward" };
			// A customer leg, or a campaign call whose detection result decides (call.machine.*.detection.ended).
			return { ...base, status: "in_progress" };
		case "call.machine.detection.ended":
		case "call.machine.premium.detection.ended": {
			if (!campaign) return null;
			const result = str(payload.result) ?? "not_sure";
			if (result === "machine") return { ...base, status: "voicemail", action: "hangup" };
			if (result === "fax_detected")
				return { ...base, status: "failed", failureReason: "Telnyx machine detection: fax_detected", action: "hangup" };
			// human, human_residence, human_business, silence, not_sure: the agent platform takes it.
			return owner.leg === "campaign-amd" ? { ...base, status: "in_progress", action: "forward" } : null;
		}
		case "call.hangup": {
			const cause = str(payload.hangup_cause) ?? "unspecified";
			if (owner.leg === "agent") {
				// The agent's leg ended. Once the customer's leg exists (the transfer was taken), the
				// customer's own hangup decides and the route makes this change nothing (action
				// agent-gone); before that nothing else will ever come about this call, so it ends here.
				// normal_clearing or time_limit: the agent answered, then hung up (or ran out of time).
				if (cause === "normal_clearing" || cause === "time_limit")
					return { ...base, status: "no_answer", failureReason: AGENT_HUNG_UP, action: "agent-gone" };
				if (cause === "originator_cancel") return { ...base, status: "cancelled", action: "agent-gone" };
				const unanswered = ["timeout", "no_answer", "user_busy", "call_rejected"].includes(cause);
				return {
					...base,
					action: "agent-gone",
					status: unanswered ? "no_answer" : "failed",
					failureReason: hangupReason(payload, unanswered ? "The agent did not answer: " : "The agent could not be reached: "),
				};
			}
			const status = CUSTOMER_HANGUP[cause] ?? "failed";
			return {
				...base,
				status,
				...(status === "completed" || status === "cancelled" ? {} : { failureReason: hangupReason(payload) }),
				...(owner.leg === "customer" && status !== "completed" ? { action: "hangup-agent" as const } : {}),
			};
		}
		default:
			return null;
	}
}

/**
 * One messaging webhook → a delivery report, without its message id (the route finds it from
 * the carrier's id). message.sent → sent; message.finalized → the recipient's final status:
 * delivered, or failed (delivery_failed, sending_failed) with the first error's code and text;
 * delivery_unconfirmed stays sent (the carrier sent no receipt). Null for other events (inbound).
 */
export function messageReport(
	envelope: TelnyxEnvelope,
): (Omit<SmsReport, "message_id"> & { providerMessageId: string | null; webhookUrl: string | null }) | null {
	const { id, event_type: type, occurred_at, payload } = envelope.data;
	if (type !== "message.sent" && type !== "message.finalized") return null;
	const recipients = Array.isArray(payload.to) ? payload.to : [];
	const first = (recipients[0] ?? {}) as Record<string, unknown>;
	const recipientStatus = str(first.status);
	let status: SmsReport["status"] = "sent";
	if (type === "message.finalized" && recipientStatus === "delivered") status = "delivered";
	if (type === "message.finalized" && (recipientStatus === "delivery_failed" || recipientStatus === "sending_failed"))
		status = "failed";
	const errors = Array.isArray(payload.errors) ? (payload.errors as Record<string, unknown>[]) : [];
	const error = errors[0];
	const failure =
		status === "failed"
			? oneLine(
					error
						? `Telnyx ${str(error.code) ?? "error"}: ${[str(error.title), str(error.detail)].filter(Boolean).join(": ") || recipientStatus}`
						: `Telnyx: ${recipientStatus}`,
				)
			: undefined;
	return {
		event_id: id,
		status,
		occurred_at: new Date(occurred_at).toISOString(),
		...(failure ? { failure_reason: failure } : {}),
		providerMessageId: str(payload.id) ?? null,
		webhookUrl: str(payload.webhook_url) ?? null,
	};
}
