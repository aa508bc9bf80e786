import { z } from "zod";
import { applyProviderEvent, type ProviderEvent } from "../../dialer/provider-events";
import { readBodyText } from "../../http/body";
import { ApiError } from "../../http/errors";
import { publicRoute, type Route } from "../../routing/route";
import { applySmsCallback } from "../../sms/routes";
import { CONNECTION_OVERRIDES, callbackUrl, type TwilioConfig, twilioConfig } from "./client";
import { verifyTwilioSignature } from "./signature";
import { SMS_CALLBACK_PATH } from "./sms";
import { isMachine, mapCallStatus, mapMessageStatus, type TwilioLeg } from "./status";
import { bridgeTwiml, hangupTwiml, redirectTwiml } from "./twiml";
import { ANSWER_PATH, RING_TIMEOUT_SECONDS, timeLimitSeconds, VOICE_CALLBACK_PATH } from "./voice";

const PROVIDER = "twilio";
const MAX_CALLBACK_BYTES = 64 * 1024;
const tags = ["webhooks"];
const SIGNATURE = "X-Twilio-Signature";

const Sid = (prefix: string) => z.string().regex(new RegExp(`^${prefix}[0-9a-zA-Z]{32}$`));

/** What callgate reads of a voice request (status callback or instructions request); Twilio sends more, all signed. */
const VoiceParams = z
	.looseObject({
		AccountSid: Sid("AC"),
		CallSid: Sid("CA"),
		CallStatus: z.string().min(1).max(40),
		ParentCallSid: Sid("CA").optional(),
		Timestamp: z.string().max(100).optional().describe("RFC 2822; when Twilio fired the status callback"),
		CallDuration: z.string().regex(/^\d+$/).optional(),
		AnsweredBy: z
			.string()
			.max(40)
			.optional()
			.describe("With MachineDetection: human, machine_start, machine_end_*, fax, unknown"),
		ErrorCode: z.string().max(20).optional(),
		ErrorMessage: z.string().max(500).optional(),
		SipResponseCode: z.string().max(10).optional(),
	})
	.meta({ id: "TwilioVoiceRequest" });

const MessageParams = z
	.looseObject({
		AccountSid: Sid("AC"),
		MessageSid: z.string().regex(/^(SM|MM)[0-9a-zA-Z]{32}$/),
		MessageStatus: z.string().min(1).max(40),
		ErrorCode: z.string().max(20).optional(),
		ErrorMessage: z.string().max(500).optional(),
	})
	.meta({ id: "TwilioMessageStatus" });

const CallQuery = z.object({
	call_id: z.uuid().describe("callgate's call id, put there by callgate (covered by the signature)"),
	leg: z.enum(["agent", "customer"]).optional().describe("A click-to-call's leg: the agent's phone, or the bridged customer"),
});
const MessageQuery = z.object({ message_id: z.uuid().describe("callgate's message id (covered by the signature)") });

const Result = z.object({ result: z.enum(["applied", "duplicate", "stale", "unknown-call", "unknown-message", "ignored"]) });

const refused = () => new ApiError(401, "Invalid or missing X-Twilio-Signature.");

/**
 * A form-encoded Twilio request, authenticated: the signature is checked over the URL Twilio
 * requested — rebuilt from PUBLIC_BASE_URL (never the request's Host), the path and the query
 * as received, with and without the connection-override fragment callgate appends — and every
 * POST parameter. Twilio's signature carries no timestamp, so a captured request could be sent
 * again: it is then a duplicate (events are deduplicated by CallSid+CallStatus) and changes
 * nothing. Twilio's `Timestamp` parameter is signed too, but is not used to refuse a late
 * callback: Twilio itself retries, and a call's final status arriving late must still apply.
 */
async function readTwilioRequest<S extends z.ZodType>(
	request: Request,
	url: URL,
	env: Env,
	schema: S,
): Promise<{ config: TwilioConfig; params: z.infer<S> }> {
	let config: TwilioConfig;
	try {
		config = twilioConfig(env);
	} catch {
		// Nothing to check a signature with: refused, never accepted unchecked.
		throw refused();
	}
	const type = request.headers.get("Content-Type")?.split(";")[0]?.trim().toLowerCase();
	const text = await readBodyText(request, MAX_CALLBACK_BYTES);
	if (type !== "application/x-www-form-urlencoded") throw refused();
	const pairs = [...new URLSearchParams(text)];
	const requested = `${config.publicBase}${url.pathname}${url.search}`;
	const signed = await verifyTwilioSignature(
		config.authToken,
		request.headers.get(SIGNATURE),
		[requested, `${requested}${CONNECTION_OVERRIDES}`],
		pairs,
	);
	if (!signed) throw refused();
	const parsed = schema.safeParse(Object.fromEntries(pairs));
	if (!parsed.success) throw new ApiError(422, "Not a Twilio request callgate understands.");
	if ((parsed.data as { AccountSid: string }).AccountSid !== config.accountSid) {
		throw new ApiError(422, "The request is for another Twilio account.");
	}
	return { config, params: parsed.data };
}

/**
 * What the voice routes know of a call before acting on a request about it: the carrier id it
 * is bound to, its status, and whether its customer leg was started (see `BRIDGED`).
 */
interface BoundCall {
	provider_call_id: string | null;
	status: string;
	bridged: number;
}

/**
 * The marker the instructions route records (in provider_events, under Twilio) before it answers
 * an agent's leg with the `<Dial>` that starts the customer's leg. It is how callgate knows a
 * customer leg exists when the agent's leg ends: a status alone cannot tell, since the agent
 * answering keeps the call `ringing` both before and after the bridge is handed out. With the
 * marker, the customer's leg (a child call with its own status callbacks, which Twilio reports
 * even when it fails to connect) reports the call's end; without it, none ever will.
 */
const bridgedEventId = (agentCallSid: string) => `${agentCallSid}:bridged`;

async function boundCall(env: Env, callId: string, callSid: string): Promise<BoundCall | null> {
	return env.DB.prepare(
		`SELECT provider_call_id, status,
		        EXISTS (SELECT 1 FROM provider_events WHERE provider = ? AND event_id = ?) AS bridged
		   FROM calls WHERE id = ?`,
	)
		.bind(PROVIDER, bridgedEventId(callSid), callId)
		.first<BoundCall>();
}

/**
 * Whether a signed request is about the call its URL names. Twilio signs every request it makes
 * for the Twilio account with the one auth token, including those to URLs that any account's
 * agent platform (or a `<Dial>` it answers) points at callgate, so the `call_id` in the URL
 * alone does not bind a request to a call. Once callgate knows the call's CallSid
 * (calls.provider_call_id: written when the dial is accepted, or by the first callback
 * recorded), a request counts only if it is about that Twilio call: its own CallSid for a
 * campaign call or a click-to-call's agent leg, or, for the bridged customer leg (a child call
 * with a CallSid of its own), its ParentCallSid, which is the agent's leg. Before the id is
 * known, the request is taken as before and the first one recorded binds it.
 */
function belongsTo(call: BoundCall, params: { CallSid: string; ParentCallSid?: string | undefined }, leg: TwilioLeg): boolean {
	if (!call.provider_call_id) return true;
	const sid = leg === "customer" ? params.ParentCallSid : params.CallSid;
	return sid === call.provider_call_id;
}

const signedResponses = {
	400: { description: "Body not UTF-8" },
	401: { description: "Bad, missing or unverifiable X-Twilio-Signature (or not form-encoded): nothing was changed" },
	413: { description: "Body over 64 KiB" },
	422: { description: "Signed, but not a request callgate understands (or for another Twilio account)" },
	500: { description: "Not applied: Twilio redelivers it (connection overrides rc/rp on the callback URL)" },
};

const voiceCallback = publicRoute({
	method: "POST",
	path: VOICE_CALLBACK_PATH,
	summary:
		"Call progress from Twilio (StatusCallback for initiated, ringing, answered, completed; form-encoded), verified by X-Twilio-Signature over PUBLIC_BASE_URL + path + query and the sorted POST parameters (HMAC-SHA1 with TWILIO_AUTH_TOKEN). Deduplicated by CallSid+CallStatus; calls only move forward. CallStatus maps to: ringing → ringing, in-progress → in_progress, completed → completed (voicemail when AnsweredBy is a machine or fax), busy, no-answer → no_answer, failed (with Twilio's ErrorCode/SipResponseCode), canceled → cancelled; queued and initiated change nothing. For a click-to-call, the agent's leg keeps the call ringing until the customer's leg answers, the agent not answering ends it no_answer (or failed), and the agent's leg completing before the customer's leg was started ends it no_answer (\"The agent hung up before the customer was connected.\"). Once the call's CallSid is known, a callback about another Twilio call (CallSid, or ParentCallSid for the bridged customer leg, not the call's) is ignored.",
	tags,
	headers: [SIGNATURE],
	query: CallQuery,
	formBody: VoiceParams,
	responses: {
		200: {
			description:
				"Applied, duplicate, stale, for an unknown call, or ignored: a status that changes nothing, or a request about another Twilio call than the one the call is bound to",
			schema: Result,
		},
		...signedResponses,
	},
	async handler({ env, request, url, query }) {
		const { params } = await readTwilioRequest(request, url, env, VoiceParams);
		const leg = (query.leg ?? null) as TwilioLeg;
		const call = await boundCall(env, query.call_id, params.CallSid);
		// About another Twilio call: 200, so Twilio does not redeliver it; nothing changes.
		if (call && !belongsTo(call, params, leg)) return Response.json({ result: "ignored" });
		// A customer leg exists once the bridge was handed out, or (calls from before the marker) once it answered.
		const customerLeg = call !== null && (call.bridged === 1 || call.status === "in_progress");
		const mapped = mapCallStatus(params as Record<string, string>, query.call_id, leg, Date.now(), { customerLeg });
		if (mapped.kind === "ignored") return Response.json({ result: "ignored" });
		return Response.json({ result: await applyProviderEvent(env, mapped.event, PROVIDER) });
	},
});

const smsCallback = publicRoute({
	method: "POST",
	path: SMS_CALLBACK_PATH,
	summary:
		"Message status from Twilio (StatusCallback; form-encoded), verified by X-Twilio-Signature like the voice callback. Deduplicated by MessageSid+MessageStatus; a final status is never overwritten. sent → sent, delivered/read → delivered, undelivered/failed/canceled → failed (with Twilio's ErrorCode); queued, accepted, scheduled and sending change nothing.",
	tags,
	headers: [SIGNATURE],
	query: MessageQuery,
	formBody: MessageParams,
	responses: {
		200: { description: "Applied, duplicate, stale, for an unknown message, or a status that changes nothing", schema: Result },
		...signedResponses,
	},
	async handler({ env, request, url, query }) {
		const { params } = await readTwilioRequest(request, url, env, MessageParams);
		const mapped = mapMessageStatus(params as Record<string, string>, query.message_id, Date.now());
		if (mapped.kind === "ignored") return Response.json({ result: "ignored" });
		return Response.json({ result: await applySmsCallback(env, mapped.event, PROVIDER) });
	},
});

interface AnsweredCall {
	id: string;
	status: string;
	to_phone: string;
	caller_id: string | null;
	campaign_id: string | null;
	provider_call_id: string | null;
	agent_answer_url: string | null;
	agent_id: string | null;
}

const FINAL = new Set(["completed", "no_answer", "busy", "failed", "voicemail", "cancelled", "timeout"]);

const twiml = (body: string) => new Response(body, { headers: { "Content-Type": "application/xml" } });

/** The agent platform's URL with the campaign's agent and callgate's call id added to its query. */
function agentUrl(base: string, agentId: string | null, callId: string): string {
	const url = new URL(base);
	if (agentId) url.searchParams.set("agent_id", agentId);
	url.searchParams.set("call_id", callId);
	return url.toString();
}

async function endWith(env: Env, callId: string, callSid: string, status: ProviderEvent["status"], reason?: string) {
	await applyProviderEvent(
		env,
		{
			event_id: `${callSid}:${status === "voicemail" ? "voicemail" : "no-agent"}`,
			call_id: callId,
			status,
			occurred_at: new Date().toISOString(),
			provider_call_id: callSid,
			...(reason ? { failure_reason: reason } : {}),
		},
		PROVIDER,
	);
}

const answer = publicRoute({
	method: "POST",
	path: ANSWER_PATH,
	summary:
		"Call instructions for Twilio when a call is answered (the Url of the create request; form-encoded, verified by X-Twilio-Signature). A campaign call is redirected to the account's agent_answer_url with agent_id and call_id added (Twilio then asks the agent platform, signed by Twilio); a machine or fax (AnsweredBy, machine detection on) is hung up on and the call ends voicemail; with no agent_answer_url the call is hung up and ends failed. A click-to-call's agent leg gets a <Dial> (with timeLimit, ending the bridge before MAX_CALL_SECONDS) that bridges the customer from the call's caller id, whose leg reports to the voice callback. A request about another Twilio call than the call's own CallSid is hung up on and changes nothing.",
	tags,
	headers: [SIGNATURE],
	query: CallQuery,
	formBody: VoiceParams,
	responses: {
		200: { description: "TwiML", mediaType: "application/xml" },
		...signedResponses,
		500: { description: "The call's outcome was not recorded: Twilio asks again (connection overrides)" },
	},
	async handler({ env, request, url, query }) {
		const { config, params } = await readTwilioRequest(request, url, env, VoiceParams);
		const call = await env.DB.prepare(
			`SELECT c.id, c.status, c.to_phone, c.caller_id, c.campaign_id, c.provider_call_id, a.agent_answer_url, k.agent_id
			   FROM calls c JOIN accounts a ON a.id = c.account_id LEFT JOIN autocall_campaigns k ON k.id = c.campaign_id
			  WHERE c.id = ?`,
		)
			.bind(query.call_id)
			.first<AnsweredCall>();
		// Nothing to connect: a call callgate does not know, or one already over.
		if (!call || FINAL.has(call.status)) return twiml(hangupTwiml());
		// Instructions asked for another Twilio call than the one this call is bound to (see belongsTo): that
		// call is hung up, this one changes nothing. TwiML, not JSON: Twilio reads this answer as instructions.
		if (!belongsTo({ ...call, bridged: 0 }, params, (query.leg ?? null) as TwilioLeg)) return twiml(hangupTwiml());
		if (query.leg === "agent") {
			const callerId = call.caller_id ?? (params as Record<string, string>).From;
			if (!callerId) return twiml(hangupTwiml());
			// Recorded before the bridge is handed out (a failure answers 5xx and Twilio asks again): from now on the
			// customer's leg, not the agent's, reports the call's end.
			await env.DB.prepare("INSERT OR IGNORE INTO provider_events (event_id, provider, received_at) VALUES (?, ?, ?)")
				.bind(bridgedEventId(params.CallSid), PROVIDER, new Date().toISOString())
				.run();
			return twiml(
				bridgeTwiml({
					callerId,
					to: call.to_phone,
					statusCallback: `${callbackUrl(config, VOICE_CALLBACK_PATH, { call_id: call.id, leg: "customer" })}${CONNECTION_OVERRIDES}`,
					timeout: RING_TIMEOUT_SECONDS,
					// The agent's leg rang, then the customer's rings, before the bridge's conversation starts.
					timeLimit: timeLimitSeconds(config, 2),
				}),
			);
		}
		if (isMachine(params.AnsweredBy)) {
			await endWith(env, call.id, params.CallSid, "voicemail");
			return twiml(hangupTwiml());
		}
		if (!call.agent_answer_url) {
			await endWith(
				env,
				call.id,
				params.CallSid,
				"failed",
				"The account has no agent_answer_url: nobody to hand the answered call to.",
			);
			return twiml(hangupTwiml());
		}
		return twiml(redirectTwiml(agentUrl(call.agent_answer_url, call.agent_id, call.id)));
	},
});

export const twilioRoutes: Route[] = [voiceCallback, smsCallback, answer];
