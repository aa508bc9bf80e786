import type { DialResult } from "../../dialer/dial-result";
import type { Dialer, OutboundCall } from "../../dialer/dialer";
import { classifyTelnyx, telnyxFetch, telnyxReason, thrown, webhookUrl } from "./api";
import { decodeClientState, encodeClientState, type Leg } from "./events";

/** How long Telnyx rings a leg before hanging it up with hangup_cause `timeout` (documented range 5–600). */
export const RING_TIMEOUT_SECONDS = 30;
/** The shortest time limit callgate asks for, whatever MAX_CALL_SECONDS says. */
const MIN_TIME_LIMIT_SECONDS = 60;
/** Slack between Telnyx's hang-up and callgate's own deadline (webhook latency, clocks). */
const TIME_LIMIT_MARGIN_SECONDS = 30;
/** Telnyx's documented ceiling for time_limit_secs (and its default): 4 hours. */
const MAX_TIME_LIMIT_SECONDS = 14_400;

const maxCallSeconds = (env: Env) => {
	const seconds = Number(env.MAX_CALL_SECONDS || 900);
	return Number.isFinite(seconds) && seconds > 0 ? Math.floor(seconds) : 900;
};
const boundedLimit = (seconds: number) => Math.min(MAX_TIME_LIMIT_SECONDS, Math.max(MIN_TIME_LIMIT_SECONDS, seconds));

/**
 * `time_limit_secs` of a dialled leg: Telnyx hangs the leg up (hangup_cause `time_limit`) that long
 * after it is answered, so the call ends at the carrier before callgate closes it as `timeout`
 * (MAX_CALL_SECONDS after the dial was accepted): the leg rings at most RING_TIMEOUT_SECONDS,
 * then talks for at most MAX_CALL_SECONDS − ring − 30 s. max(60, …): a tiny MAX_CALL_SECONDS
 * still lets a call say something.
 */
export const dialTimeLimitSeconds = (env: Env) =>
	boundedLimit(maxCallSeconds(env) - RING_TIMEOUT_SECONDS - TIME_LIMIT_MARGIN_SECONDS);

/**
 * `time_limit_secs` of a leg created by a transfer (the customer of a click-to-call, or where an
 * agent platform sends a campaign call): it starts ringing only after the first leg was answered
 * (itself after up to RING_TIMEOUT_SECONDS), and rings up to RING_TIMEOUT_SECONDS more, so one more
 * ring is taken off.
 */
export const transferTimeLimitSeconds = (env: Env) =>
	boundedLimit(maxCallSeconds(env) - 2 * RING_TIMEOUT_SECONDS - TIME_LIMIT_MARGIN_SECONDS);

/** Active-call pages read at most in one look-up (250 calls a page, the documented maximum). */
const MAX_LOOKUP_PAGES = 20;

/**
 * Telnyx Call Control (`POST /v2/calls`). A campaign call dials the customer; a click-to-call
 * dials the agent leg first, and the webhook route transfers it to the customer when the agent
 * answers. Every leg carries callgate's call id in `client_state`, so its webhooks map back.
 *
 * Never ringing twice: the dial's `command_id` is callgate's call id (Telnyx ignores a second
 * Dial with the same command_id; its docs give that window as 60 s). The API has no
 * Idempotency-Key for /v2/calls (only some newer endpoints declare it). So when callgate asks
 * again for a call whose first request got no answer (`firstAskedAt`), the adapter looks first,
 * see `findPlaced`.
 */
export function telnyxDialer(env: Env): Dialer {
	return {
		async place(call) {
			if (!call.callerId) {
				return { kind: "permanent", reason: "No caller id to present: Telnyx needs a `from` number for every call." };
			}
			if (call.firstAskedAt !== null) {
				const found = await findPlaced(env, call);
				if (found) return found;
			}
			let response: Response;
			try {
				response = await telnyxFetch(env, "POST", "/v2/calls", dialRequest(env, call));
			} catch (error) {
				return thrown(error);
			}
			const { result, text } = await classifyTelnyx(response);
			if (result.kind !== "accepted") return result;
			const id = callControlIdOf(text);
			return id ? { kind: "accepted", providerCallId: id } : { kind: "accepted" };
		},
	};
}

export function legOf(call: OutboundCall): Leg {
	if (call.agentLeg) return "agent";
	return call.machineDetection ? "campaign-amd" : "campaign";
}

/** The Dial command's body: every parameter callgate sets, and nothing else. */
export function dialRequest(env: Env, call: OutboundCall): Record<string, unknown> {
	const leg = legOf(call);
	return {
		connection_id: env.TELNYX_CONNECTION_ID ?? "",
		// Click-to-call rings the agent (a SIP URI or a number) first; the customer is the transfer's target.
		to: call.agentLeg ?? call.to,
		from: call.callerId,
		webhook_url: webhookUrl(env),
		webhook_url_method: "POST",
		client_state: encodeClientState(call.callId, leg),
		command_id: call.callId,
		timeout_secs: RING_TIMEOUT_SECONDS,
		// Telnyx ends the call before callgate's MAX_CALL_SECONDS deadline closes it as timeout.
		time_limit_secs: dialTimeLimitSeconds(env),
		// Standard detection: one call.machine.detection.ended with human | machine | not_sure.
		...(leg === "campaign-amd" ? { answering_machine_detection: "detect" } : {}),
	};
}

function callControlIdOf(text: string): string | undefined {
	try {
		const id = (JSON.parse(text) as { data?: { call_control_id?: unknown } }).data?.call_control_id;
		return typeof id === "string" && id.length > 0 && id.length <= 200 ? id : undefined;
	} catch {
		return undefined;
	}
}

/**
 * Whether Telnyx already has this call, asked before dialling again. Answers `accepted` when it
 * does, a transient refusal when it cannot tell (the look-up failed: dialling blind could ring
 * twice), and undefined when nothing shows the call exists.
 *
 * What this can prove, and what it cannot:
 * - callgate's own record: a call any of whose webhooks arrived (call.initiated comes first and
 *   carries our client_state) has a status past `dialing` or a provider_call_id in D1. That covers
 *   calls that already ended, as long as one of their webhooks was delivered.
 * - `GET /v2/connections/{connection_id}/active_calls`: every live call on the connection, with
 *   its client_state; ours decodes to this call id. It cannot see a call that already ended
 *   (only live calls are listed), nor, possibly, one created an instant ago.
 * - the blind spot of both, a call Telnyx created whose webhooks have not reached us and that is
 *   already over (or not yet listed), is covered by the dial's command_id for the 60 s Telnyx
 *   documents for duplicate commands. Past that, such a call would be dialled again: it needs a
 *   request that got no answer, a call that ended, and every one of its webhooks still undelivered
 *   more than a minute later.
 */
export async function findPlaced(env: Env, call: OutboundCall): Promise<DialResult | undefined> {
	const row = await env.DB.prepare("SELECT status, provider_call_id FROM calls WHERE id = ?")
		.bind(call.callId)
		.first<{ status: string; provider_call_id: string | null }>();
	if (row && (row.provider_call_id || !["queued", "dialing"].includes(row.status))) {
		return row.provider_call_id ? { kind: "accepted", providerCallId: row.provider_call_id } : { kind: "accepted" };
	}
	let path = `/v2/connections/${encodeURIComponent(env.TELNYX_CONNECTION_ID ?? "")}/active_calls?page[size]=250`;
	for (let page = 0; page < MAX_LOOKUP_PAGES; page++) {
		let response: Response;
		try {
			response = await telnyxFetch(env, "GET", path);
		} catch (error) {
			// No answer to a read: nothing was placed by it, so this is not uncertain.
			const { reason } = thrown(error) as { reason: string };
			return { kind: "transient", reason: `Looking for an earlier dial: ${reason}` };
		}
		const text = await response.text().catch(() => "");
		if (!response.ok) {
			return { kind: "transient", reason: `Looking for an earlier dial: ${telnyxReason(response.status, text)}` };
		}
		let body: { data?: { call_control_id?: unknown; client_state?: unknown }[]; meta?: { cursors?: { after?: unknown } } };
		try {
			body = JSON.parse(text);
		} catch {
			return { kind: "transient", reason: "Looking for an earlier dial: Telnyx answered something other than JSON." };
		}
		const data = Array.isArray(body.data) ? body.data : [];
		const mine = data.find((active) => decodeClientState(active.client_state)?.callId === call.callId);
		if (mine) {
			return typeof mine.call_control_id === "string"
				? { kind: "accepted", providerCallId: mine.call_control_id }
				: { kind: "accepted" };
		}
		const after = body.meta?.cursors?.after;
		if (!data.length || typeof after !== "string" || !after) return undefined;
		path = `/v2/connections/${encodeURIComponent(env.TELNYX_CONNECTION_ID ?? "")}/active_calls?page[size]=250&page[after]=${encodeURIComponent(after)}`;
	}
	return { kind: "transient", reason: "Looking for an earlier dial: too many active calls to read." };
}

/** A Call Control command on one leg (`/v2/calls/{call_control_id}/actions/{action}`), answered as a DialResult. */
export async function callCommand(
	env: Env,
	callControlId: string,
	action: "hangup" | "transfer" | "speak" | "streaming_start",
	body: Record<string, unknown>,
): Promise<DialResult> {
	try {
		const response = await telnyxFetch(env, "POST", `/v2/calls/${encodeURIComponent(callControlId)}/actions/${action}`, body);
		return (await classifyTelnyx(response)).result;
	} catch (error) {
		return thrown(error);
	}
}
