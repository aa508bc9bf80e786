import { signProviderPayload } from "../lib/signatures";
import { parseRetryAfter } from "../webhooks/backoff";
import { classifyDialResponse, type DialResult, transient } from "./dial-result";

export type { DialResult } from "./dial-result";

export interface OutboundCall {
	callId: string;
	accountId: string;
	campaignId: string | null;
	to: string;
	callerId: string | null;
}

/**
 * Places calls; progress comes back as provider events (`applyProviderEvent`). `place` says
 * whether the provider took the call; it never throws for a refusal. The call id is the
 * provider's idempotency key: placing the same id again must not ring twice.
 */
export interface Dialer {
	place(call: OutboundCall): Promise<DialResult>;
}

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
			response = await fetch(env.DIALER_URL, {
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

export function dialerFor(env: Env): Dialer {
	return env.DIALER_PROVIDER === "http" ? httpDialer(env) : simulatedDialer(env);
}
