import { telnyxDialer } from "../carriers/telnyx/voice";
import { twilioDialer } from "../carriers/twilio/voice";
import { deploymentProblems } from "../config/deployment";
import { signProviderPayload } from "../lib/signatures";
import { parseRetryAfter } from "../webhooks/backoff";
import { classifyDialResponse, type DialResult, transient } from "./dial-result";

export type { DialResult } from "./dial-result";

export interface OutboundCall {
	callId: string;
	accountId: string;
	campaignId: string | null;
	/** The customer's number, E.164. */
	to: string;
	/** The number the call presents, E.164: the carriers require one (callgate resolves it before the dial). */
	callerId: string | null;
	/** Campaign calls: the agent the account's `agent_answer_url` is asked to connect when the customer answers. */
	agentId: string | null;
	/** Click-to-call: where the agent is rung first (a `sip:` URI or an E.164 number); the customer is bridged when the agent answers. */
	agentLeg: string | null;
	/** Campaign calls: answering-machine detection asked for; a machine ends the call `voicemail`. */
	machineDetection: boolean;
	/**
	 * Set when callgate asks again for a call whose earlier request got no answer (a timeout, a
	 * dropped connection, a restart): the carrier may already have it. A carrier without
	 * idempotency keys must look before placing it again. Epoch ms of the first ask.
	 */
	firstAskedAt: number | null;
}

/**
 * Places calls; progress comes back as provider events (`applyProviderEvent`). `place` says
 * whether the provider took the call; it never throws for a refusal. The call id is the
 * provider's idempotency key: placing the same id again must not ring twice.
 */
export interface Dialer {
	place(call: OutboundCall): Promise<DialResult>;
}

/** Providers that ring real phones: they need a caller id, an agent leg for click-to-call and an agent platform for campaigns. */
export const CARRIERS = ["twilio", "telnyx"] as const;

export const dialsThroughCarrier = (env: Env) => (CARRIERS as readonly string[]).includes(env.DIALER_PROVIDER);

/** How long a dial request may take before it counts as a transient failure. */
export const DIAL_TIMEOUT_MS = 10_000;

/** Local default: a Durable Object that plays the provider, reporting back after SIMULATED_CALL_SECONDS. */
const simulatedDialer = (env: Env): Dialer => ({
	async place(call) {
		const name = call.campaignId ? `campaign:${call.campaignId}` : `account:${call.accountId}`;
		try {
			await env.DIALER_SIMULATOR.get(env.DIALER_SIMULATOR.idFromName(name)).place(call);
			return { kind: "accepted" };
		} catch (error) {
			return transient(error);
		}
	},
});

/** A real dialer behind DIALER_URL: a signed POST; it calls back POST /api/webhooks/dialer. */
const httpDialer = (env: Env): Dialer => ({
	async place(call) {
		const body = JSON.stringify({
			call_id: call.callId,
			to: call.to,
			caller_id: call.callerId,
			callback_path: "/api/webhooks/dialer",
		});
		let response: Response;
		try {
			response = await fetch(env.DIALER_URL ?? "", {
				method: "POST",
				headers: {
					"Content-Type": "application/json",
					"X-Callgate-Signature": await signProviderPayload(env.DIALER_SECRET ?? "", body),
				},
				body,
				redirect: "manual",
				signal: AbortSignal.timeout(DIAL_TIMEOUT_MS),
			});
		} catch (error) {
			return transient(error);
		}
		const text = response.ok ? "" : await response.text().catch(() => "");
		if (response.ok) await response.body?.cancel();
		const retryAfter = parseRetryAfter(response.headers.get("Retry-After"), Date.now());
		return classifyDialResponse(response.status, text, retryAfter === undefined ? undefined : retryAfter * 1000);
	},
});

/**
 * Stands in for the provider of a deployment that may not serve (see deploymentProblems): an
 * alarm set before the configuration broke must not dial through the wrong provider or with an
 * empty key, nor lose the call; a transient refusal keeps the contact waiting until it is fixed.
 */
const unconfiguredDialer = (problems: readonly string[]): Dialer => ({
	place: async () => ({ kind: "transient", reason: `The dialer is not configured: ${problems[0]}` }),
});

/** The provider named by DIALER_PROVIDER. */
export function dialerFor(env: Env): Dialer {
	const problems = deploymentProblems(env);
	if (problems.length) return unconfiguredDialer(problems);
	switch (env.DIALER_PROVIDER) {
		case "http":
			return httpDialer(env);
		case "twilio":
			return twilioDialer(env);
		case "telnyx":
			return telnyxDialer(env);
		default:
			return simulatedDialer(env);
	}
}
