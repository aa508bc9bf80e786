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

/** How long an account's events are kept for streams that resume with Last-Event-ID… */
export const REPLAY_WINDOW_MS = 15 * 60_000;
/** …and at most how many of them. */
export const REPLAY_MAX_EVENTS = 1_000;

/**
 * A stream's position: `pos_<n>`, n the sequence number of the last event the account had
 * published when the stream opened (0 before any). Every stream sends it as an `id:` line
 * without data right after its replay, so a client's Last-Event-ID is set from the moment it
 * is connected: a connection that ends before its first event resumes from where it opened,
 * and events published between the two connections are replayed. It stays meaningful after
 * the events before it are no longer kept, since it names a point in the sequence, not an event.
 */
export const positionId = (sequence: number) => `pos_${sequence}`;

/** The sequence number in a position id, or undefined for any other id. */
export function parsePosition(id: string): number | undefined {
	const digits = /^pos_(\d{1,15})$/.exec(id)?.[1];
	return digits === undefined ? undefined : Number(digits);
}

/** An `id:` with no data: EventSource (and the SDK) take it as the Last-Event-ID; nothing is dispatched. */
export const positionFrame = (sequence: number) => `id: ${positionId(sequence)}\n\n`;

/** The type of the frame that tells a resuming stream its Last-Event-ID is no longer kept. */
export const STREAM_GAP = "stream.gap";

/**
 * Sent to a stream that resumes after an event no longer kept (or never sent): events may
 * have been missed, so the client should re-read what it needs. It has no `id:` line, so the
 * client's Last-Event-ID stays what it was until the next real event.
 */
export const streamGapFrame = (lastEventId: string) =>
	`event: ${STREAM_GAP}\ndata: ${JSON.stringify({
		type: STREAM_GAP,
		last_event_id: lastEventId,
		message: `Events after ${JSON.stringify(lastEventId)} are no longer kept (the last ${REPLAY_WINDOW_MS / 60_000} minutes, at most ${REPLAY_MAX_EVENTS} events, are); the kept ones follow. Re-read what you need through the API.`,
	})}\n\n`;

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
