import { signProviderPayload } from "../lib/signatures";

export interface OutboundCall {
	callId: string;
	accountId: string;
	campaignId: string | null;
	to: string;
	callerId: string | null;
}

/** Places calls; progress comes back as provider events (`applyProviderEvent`). */
export interface Dialer {
	place(call: OutboundCall): Promise<void>;
}

/** Local default: a Durable Object that plays the provider, reporting back after SIMULATED_CALL_SECONDS. */
const simulatedDialer = (env: Env): Dialer => ({
	async place(call) {
		const name = call.campaignId ? `campaign:${call.campaignId}` : `account:${call.accountId}`;
		await env.DIALER_SIMULATOR.get(env.DIALER_SIMULATOR.idFromName(name)).place(call);
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
		const response = await fetch(env.DIALER_URL, {
			method: "POST",
			headers: {
				"Content-Type": "application/json",
				"X-Callgate-Signature": await signProviderPayload(env.DIALER_SECRET ?? "", body),
			},
			body,
		});
		if (!response.ok) throw new Error(`dialer refused call ${call.callId}: HTTP ${response.status}`);
	},
});

export function dialerFor(env: Env): Dialer {
	return env.DIALER_PROVIDER === "http" ? httpDialer(env) : simulatedDialer(env);
}
