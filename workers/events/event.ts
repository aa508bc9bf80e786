/** An account event: what SSE streams and webhooks carry. `id` is unique, for dedupe. */
export interface AccountEvent {
	id: string;
	type: string;
	created_at: string;
	data: Record<string, unknown>;
}

export const newEvent = (type: string, data: Record<string, unknown>, at = Date.now()): AccountEvent => ({
	id: `evt_${crypto.randomUUID().replaceAll("-", "")}`,
	type,
	created_at: new Date(at).toISOString(),
	data,
});

export const sseFrame = (event: AccountEvent) => `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;

export interface CallCompletion {
	callId: string;
	campaignId: string | null;
	to: string;
	outcome: string;
	attempt: number;
	durationSeconds: number | null;
	/** Present when callgate ended the call itself (a refusal, a timeout); a provider's report has none. */
	failureReason?: string | null;
	/** ISO time of the end. */
	at: string;
}

/**
 * A call's one `call.completed`: its id is fixed per call, so whichever path ends the call (a
 * provider's callback, the pacer, the click-to-call dispatcher) and however often it is
 * written again, receivers and the events table see it once.
 */
export function callCompletedEvent(completion: CallCompletion): AccountEvent {
	return {
		id: `evt_call_completed_${completion.callId.replaceAll("-", "")}`,
		type: "call.completed",
		created_at: completion.at,
		data: {
			call_id: completion.callId,
			campaign_id: completion.campaignId,
			to: completion.to,
			outcome: completion.outcome,
			attempt: completion.attempt,
			duration_seconds: completion.durationSeconds,
			...(completion.failureReason === undefined ? {} : { failure_reason: completion.failureReason }),
		},
	};
}
