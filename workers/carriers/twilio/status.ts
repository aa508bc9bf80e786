import type { ProviderEvent } from "../../dialer/provider-events";
import type { SmsReport } from "../../sms/routes";

/**
 * Which call a voice status callback is about, from the callback URL callgate gave Twilio:
 * `null` a campaign call (the customer is dialled directly); `agent` the first leg of a
 * click-to-call (the agent's phone); `customer` its second leg, the `<Dial><Number>` that
 * bridges the customer once the agent answered (a child call with a CallSid of its own).
 */
export type TwilioLeg = "agent" | "customer" | null;

export type Mapped<T> = { kind: "event"; event: T } | { kind: "ignored"; reason: string };

const MAX_REASON = 200;

/** Answering-machine results (MachineDetection): a machine's greeting, its end, or a fax. `human` and `unknown` are not. */
export const isMachine = (answeredBy: string | undefined) =>
	answeredBy !== undefined && (answeredBy.startsWith("machine_") || answeredBy === "fax");

/** One line, at most 200 characters. */
export function oneLine(text: string): string {
	const line = text.replace(/\s+/g, " ").trim();
	return line.length > MAX_REASON ? `${line.slice(0, MAX_REASON - 1)}…` : line;
}

/** Twilio's words for a failure: `Twilio <ErrorCode>: <ErrorMessage>` and the SIP response code when it gave one. */
export function twilioFailure(params: Record<string, string>, fallback: string): string {
	const code = params.ErrorCode?.trim();
	const message = params.ErrorMessage?.trim();
	const sip = params.SipResponseCode?.trim();
	const parts = [
		code ? `Twilio ${code}${message ? `: ${message}` : ""}` : message ? `Twilio: ${message}` : "",
		sip ? `SIP ${sip}` : "",
	].filter(Boolean);
	return oneLine(parts.length ? parts.join(" / ") : fallback);
}

/** Twilio's `Timestamp` (RFC 2822) as ISO 8601; `now` when absent or unreadable. */
function occurredAt(timestamp: string | undefined, now: number): string {
	const at = timestamp ? Date.parse(timestamp) : Number.NaN;
	return new Date(Number.isNaN(at) ? now : at).toISOString();
}

function duration(value: string | undefined): number | undefined {
	if (value === undefined || !/^\d+$/.test(value)) return undefined;
	return Math.min(Number(value), 86_400);
}

type Status = ProviderEvent["status"];

export const AGENT_HUNG_UP = "The agent hung up before the customer was connected.";

/**
 * A voice status callback (CallStatus of Twilio's Call resource) as callgate's call event, or
 * why it changes nothing. The event id is `CallSid:CallStatus`, so a redelivery (or a replay
 * of a captured request) is a duplicate; applyProviderEvent never moves a call backwards, so
 * a late `ringing` after `completed` changes nothing.
 *
 * A click-to-call's agent leg ending `completed` ends the call `no_answer` (the agent hung up
 * before the customer was connected) unless `context.customerLeg` says the customer's leg was
 * started: then that leg reports the call's end and the agent's changes nothing.
 */
export function mapCallStatus(
	params: Record<string, string>,
	callId: string,
	leg: TwilioLeg,
	now: number,
	context: { customerLeg?: boolean } = {},
): Mapped<ProviderEvent> {
	const sid = params.CallSid ?? "";
	const status = params.CallStatus ?? "";
	const machine = isMachine(params.AnsweredBy);
	const agent = leg === "agent";
	const event = (mapped: Status, failure?: string): Mapped<ProviderEvent> => {
		const seconds = duration(params.CallDuration);
		const provider = leg === "customer" ? params.ParentCallSid : sid;
		return {
			kind: "event",
			event: {
				event_id: `${sid}:${status}`,
				call_id: callId,
				status: mapped,
				occurred_at: occurredAt(params.Timestamp, now),
				...(seconds === undefined ? {} : { duration_seconds: seconds }),
				...(failure === undefined ? {} : { failure_reason: failure }),
				...(provider ? { provider_call_id: provider } : {}),
			},
		};
	};
	switch (status) {
		case "queued":
		case "initiated":
			return { kind: "ignored", reason: "The call is already dialling." };
		case "ringing":
			return event("ringing");
		case "in-progress":
			// The agent answered: the customer is being rung now.
			if (agent) return event("ringing");
			return event(machine ? "voicemail" : "in_progress");
		case "completed":
			if (agent) {
				// Once the customer's leg exists, it reports the call's end (the agent's leg ends with or after it).
				if (context.customerLeg) return { kind: "ignored", reason: "The customer's leg reports the call's end." };
				// The agent hung up (or Twilio ended the leg, the instructions failing) before any customer leg was
				// started: nothing else will ever report on this call.
				return event("no_answer", AGENT_HUNG_UP);
			}
			return event(machine ? "voicemail" : "completed");
		case "busy":
			return agent ? event("no_answer", "The agent did not answer (busy).") : event("busy");
		case "no-answer":
			return agent ? event("no_answer", "The agent did not answer.") : event("no_answer");
		case "failed":
			return agent
				? event("failed", oneLine(`The agent's line failed: ${twilioFailure(params, "Twilio reported the call failed.")}`))
				: event("failed", twilioFailure(params, "Twilio reported the call failed."));
		case "canceled":
			return event("cancelled");
		default:
			return { kind: "ignored", reason: `Unknown CallStatus ${JSON.stringify(status.slice(0, 40))}.` };
	}
}

/**
 * A message status callback (MessageStatus) as callgate's delivery report. Statuses before the
 * carrier handed the message on (queued, accepted, scheduled, sending) change nothing; `read`
 * (WhatsApp) counts as delivered; `undelivered`, `failed` and `canceled` fail it with Twilio's
 * error code. The event id is `MessageSid:MessageStatus`.
 */
export function mapMessageStatus(params: Record<string, string>, messageId: string, now: number): Mapped<SmsReport> {
	const sid = params.MessageSid ?? params.SmsSid ?? "";
	const status = params.MessageStatus ?? params.SmsStatus ?? "";
	const report = (mapped: SmsReport["status"], failure?: string): Mapped<SmsReport> => ({
		kind: "event",
		event: {
			event_id: `${sid}:${status}`,
			message_id: messageId,
			status: mapped,
			occurred_at: new Date(now).toISOString(),
			...(failure === undefined ? {} : { failure_reason: failure }),
		},
	});
	switch (status) {
		case "queued":
		case "accepted":
		case "scheduled":
		case "sending":
			return { kind: "ignored", reason: "The message has not left Twilio yet." };
		case "sent":
			return report("sent");
		case "delivered":
		case "read":
			return report("delivered");
		case "undelivered":
		case "failed":
			return report("failed", twilioFailure(params, `Twilio reported the message ${status}.`));
		case "canceled":
			return report("failed", "Twilio canceled the message before sending it.");
		default:
			return { kind: "ignored", reason: `Unknown MessageStatus ${JSON.stringify(status.slice(0, 40))}.` };
	}
}
