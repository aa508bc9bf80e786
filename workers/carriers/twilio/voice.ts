import type { DialResult } from "../../dialer/dial-result";
import type { Dialer, OutboundCall } from "../../dialer/dialer";
import {
	CLOCK_SKEW_MS,
	CONNECTION_OVERRIDES,
	callbackUrl,
	classifyCreate,
	firstUnclaimed,
	listPage,
	type TwilioConfig,
	twilioConfig,
	twilioFetch,
	utcDay,
} from "./client";

/** How long the customer's (or, for a click-to-call, the agent's) phone may ring, in seconds. */
export const RING_TIMEOUT_SECONDS = 30;

/** What is taken off MAX_CALL_SECONDS on top of the ringing: Twilio's queueing, its ring-timeout buffer, clock skew. */
export const TIME_LIMIT_MARGIN_SECONDS = 30;
/** Twilio refuses a call limit under a minute. */
export const MIN_TIME_LIMIT_SECONDS = 60;

/**
 * The `TimeLimit` of a Create Call request: Twilio hangs the call up itself before callgate's
 * MAX_CALL_SECONDS deadline closes it as `timeout` (the pacer's deadline starts when the dial
 * is accepted, the cron's at the call's creation), so a call callgate counts as over never
 * goes on talking at Twilio and max_concurrent_calls holds there too.
 *
 * Twilio documents TimeLimit only as "the maximum duration of the call in seconds", and a
 * call's duration at Twilio is the time it was in progress, i.e. counted from the answer, not
 * from the create request. So the worst case is counted from the answer: the phone may ring up
 * to RING_TIMEOUT_SECONDS first (`ringing` legs before it: one for a campaign call, the agent's
 * leg and then the customer's for a click-to-call's bridge), plus a margin. Should Twilio count
 * from the create request instead, the call only ends earlier. Never under Twilio's minimum.
 */
export function timeLimitSeconds(config: TwilioConfig, ringing = 1): number {
	return Math.max(MIN_TIME_LIMIT_SECONDS, config.maxCallSeconds - ringing * RING_TIMEOUT_SECONDS - TIME_LIMIT_MARGIN_SECONDS);
}

export const VOICE_CALLBACK_PATH = "/api/webhooks/twilio/voice";
export const ANSWER_PATH = "/api/webhooks/twilio/answer";

/** What Twilio's Calls list answers per call (the fields the re-ask look-up reads). */
interface TwilioCallRecord {
	sid?: string;
	date_created?: string;
	to?: string;
	from?: string;
	status?: string;
	parent_call_sid?: string | null;
}

/**
 * The Create Call request (POST /2010-04-01/Accounts/{sid}/Calls.json, form-encoded):
 *
 * - campaign call: `To` the customer, `From` the caller id; when answered, Twilio asks `Url`
 *   (callgate's answer route), which hands the call to the account's agent platform.
 * - click-to-call: `To` the agent's leg (a `sip:` URI or a number); when the agent answers,
 *   the answer route bridges the customer with `<Dial><Number>`.
 *
 * `StatusCallback` carries callgate's call id (and the leg) in its query, which Twilio's
 * signature covers; `StatusCallbackEvent` is repeated, one parameter per event.
 *
 * `TimeLimit` (see timeLimitSeconds) ends the call at Twilio before callgate's MAX_CALL_SECONDS
 * deadline; for a click-to-call it is the agent's leg's limit, and the bridged customer leg
 * gets its own `<Dial timeLimit>` (both legs end when the agent's does).
 *
 * Machine detection is synchronous (`MachineDetection=Enable`, no `AsyncAmd`): Twilio asks
 * `Url` only once it knows who answered and passes `AnsweredBy`, so the answer route decides
 * in one place, before anyone is connected, whether the agent platform gets the call or the
 * machine is hung up on (outcome `voicemail`). The price is the detection's few seconds of
 * silence for a human; asynchronous detection would connect the agent platform first and race
 * its verdict against the conversation.
 */
export function createCallParams(config: TwilioConfig, call: OutboundCall): URLSearchParams {
	const query: Record<string, string> = call.agentLeg ? { call_id: call.callId, leg: "agent" } : { call_id: call.callId };
	const params = new URLSearchParams();
	params.append("To", call.agentLeg ?? call.to);
	params.append("From", call.callerId ?? "");
	params.append("Url", `${callbackUrl(config, ANSWER_PATH, query)}${CONNECTION_OVERRIDES}`);
	params.append("Method", "POST");
	params.append("StatusCallback", `${callbackUrl(config, VOICE_CALLBACK_PATH, query)}${CONNECTION_OVERRIDES}`);
	for (const event of ["initiated", "ringing", "answered", "completed"]) params.append("StatusCallbackEvent", event);
	params.append("StatusCallbackMethod", "POST");
	params.append("Timeout", String(RING_TIMEOUT_SECONDS));
	params.append("TimeLimit", String(timeLimitSeconds(config)));
	if (call.machineDetection && !call.agentLeg) params.append("MachineDetection", "Enable");
	return params;
}

/**
 * The call Twilio may already have, when an earlier request for this call got no answer.
 *
 * Twilio has no idempotency key for Create Call, so callgate looks before dialling again: the
 * Calls list filtered by `To` and `From` and `StartTime>=` the UTC day of the first ask (the
 * filter's granularity is a day), plus the same `To`/`From` with `Status=queued` (a call
 * still waiting in Twilio's calls-per-second queue has no start time yet). A record counts if
 * Twilio created it no earlier than the first ask minus a clock skew and its CallSid is not
 * the provider id of another callgate call.
 *
 * What this proves: Twilio holds a call between these two numbers made since the first ask
 * that no other callgate call claims; its callbacks carry this call's id (they go to the URL
 * of the first request), so adopting it loses nothing. What it cannot prove: that the call is
 * this request's and not someone else's on the same Twilio account between the same numbers
 * in that window (another system, a person in Twilio's console, or another callgate call whose
 * own request also went unanswered); and a call Twilio accepted but does not list yet (its
 * list reads may lag) is not found, so it would be dialled again. When the look-up itself
 * fails, nothing is dialled: the attempt stays uncertain and is asked again later.
 */
export async function findEarlierCall(
	env: Env,
	config: TwilioConfig,
	call: OutboundCall,
	firstAskedAt: number,
): Promise<{ found: string | null } | { failed: DialResult }> {
	const to = call.agentLeg ?? call.to;
	const from = call.callerId ?? "";
	const since = firstAskedAt - CLOCK_SKEW_MS;
	const started = new URLSearchParams({ To: to, From: from, "StartTime>": utcDay(since), PageSize: "50" });
	const queued = new URLSearchParams({ To: to, From: from, Status: "queued", PageSize: "50" });
	const pages = await Promise.all([
		listPage<TwilioCallRecord>(config, "/Calls.json", started, "calls"),
		listPage<TwilioCallRecord>(config, "/Calls.json", queued, "calls"),
	]);
	const records: TwilioCallRecord[] = [];
	for (const page of pages) {
		if (!page.ok) return { failed: page.result };
		records.push(...page.records);
	}
	// A leg a <Dial> started is a child of another call, never the one callgate created.
	const same = records.filter((record) => !record.parent_call_sid && record.to === to && record.from === from);
	return firstUnclaimed(env, same, since, { table: "calls", column: "provider_call_id", exceptId: call.callId });
}

/** The Twilio dialer (DIALER_PROVIDER=twilio). */
export function twilioDialer(env: Env): Dialer {
	return {
		async place(call) {
			let config: TwilioConfig;
			try {
				config = twilioConfig(env);
			} catch (error) {
				return { kind: "transient", reason: error instanceof Error ? error.message : String(error) };
			}
			if (!call.callerId) return { kind: "permanent", reason: "No caller id to present: Twilio needs a From number." };
			if (call.firstAskedAt !== null && call.firstAskedAt !== undefined) {
				let earlier: Awaited<ReturnType<typeof findEarlierCall>>;
				try {
					earlier = await findEarlierCall(env, config, call, call.firstAskedAt);
				} catch (error) {
					return { kind: "transient", reason: "The look-up for an earlier request failed.", uncertain: true, ...cause(error) };
				}
				if ("failed" in earlier) return earlier.failed;
				if (earlier.found) return { kind: "accepted", providerCallId: earlier.found };
			}
			return classifyCreate(() => twilioFetch(config, "POST", "/Calls.json", createCallParams(config, call)));
		},
	};
}

/** Nothing of the error's text reaches the reason (it could hold internals); it is logged instead. */
function cause(error: unknown): Record<string, never> {
	console.warn("twilio look-up failed", error instanceof Error ? error.message : String(error));
	return {};
}
