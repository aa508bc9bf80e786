import { z } from "zod";
import { type CallOutcome, FINAL_OUTCOMES } from "../../durable-objects/campaign/pacing";
import { type AccountEvent, callCompletedEvent } from "../events/event";
import { deliveriesMade, dispatchEvents, eventStatements } from "../events/outbox";

export const ProviderEvent = z.strictObject({
	event_id: z.string().min(1).max(200),
	call_id: z.uuid(),
	status: z.enum(["ringing", "in_progress", "completed", "no_answer", "busy", "failed", "voicemail", "cancelled"]),
	occurred_at: z.iso.datetime(),
	duration_seconds: z.int().min(0).max(86_400).optional(),
	/** Why a call failed, in the provider's words (a carrier's error code and message); kept on the call. */
	failure_reason: z.string().min(1).max(200).optional(),
	/** The provider's own id for the call (Twilio's CallSid, Telnyx's call_control_id). */
	provider_call_id: z.string().min(1).max(200).optional(),
});
export type ProviderEvent = z.infer<typeof ProviderEvent>;

const FINAL = new Set<string>(FINAL_OUTCOMES);
/** Calls only move forward: an event older than the call's state changes nothing. */
const RANK: Record<string, number> = { queued: 0, dialing: 1, ringing: 2, in_progress: 3 };
const FINAL_RANK = 4;
const rank = (status: string) => (FINAL.has(status) ? FINAL_RANK : (RANK[status] ?? 0));
/** The same ranking over the stored status, so the database decides against the row as it is when the batch runs. */
const RANK_SQL = `CASE WHEN status IN (${[...FINAL].map((s) => `'${s}'`).join(", ")}) THEN ${FINAL_RANK} ${Object.entries(RANK)
	.map(([s, r]) => `WHEN status = '${s}' THEN ${r}`)
	.join(" ")} ELSE 0 END`;

export type ApplyResult = "applied" | "duplicate" | "stale" | "unknown-call";

interface CallRow {
	id: string;
	account_id: string;
	campaign_id: string | null;
	status: string;
	to_phone: string;
	attempt: number;
}

const findCall = (env: Env, id: string) =>
	env.DB.prepare("SELECT id, account_id, campaign_id, status, to_phone, attempt FROM calls WHERE id = ?")
		.bind(id)
		.first<CallRow>();

/** The batch failed on the event id's primary key: this event was recorded, with its effect, before. */
export const isRecordedAlready = (error: unknown) => String(error).includes("UNIQUE constraint failed: provider_events.");

/**
 * Applies one provider callback exactly once: deduped by event id, ignored when it would move
 * the call backwards (late or out-of-order delivery), and a final status frees the campaign slot.
 *
 * The event id, the call's update and its completion event commit in one batch, so an id is
 * never recorded without its effect. Throws when the effect did not happen (the batch failed,
 * or the campaign's pacer was not told): the callback answers 5xx and the provider's
 * redelivery finishes the job.
 */
export async function applyProviderEvent(env: Env, event: ProviderEvent, provider = "dialer"): Promise<ApplyResult> {
	// One spelling of the instant, so that stored times compare as strings.
	const at = new Date(event.occurred_at).toISOString();
	if (!FINAL.has(event.status)) return applyProgress(env, event, provider, at);
	const call = await findCall(env, event.call_id);
	// Nothing to commit the id with, so it is not recorded.
	if (!call) return "unknown-call";
	// The call's one completion event: its id is fixed, and it is written only by the update that ends the call.
	const completed: AccountEvent[] = [
		callCompletedEvent({
			callId: call.id,
			campaignId: call.campaign_id,
			to: call.to_phone,
			outcome: event.status,
			attempt: call.attempt,
			durationSeconds: event.duration_seconds ?? null,
			...(event.failure_reason === undefined ? {} : { failureReason: event.failure_reason }),
			at,
		}),
	];
	let results: D1Result[];
	try {
		results = await env.DB.batch([
			// A plain insert: an id seen before fails the whole batch, effect included.
			env.DB.prepare("INSERT INTO provider_events (event_id, provider, received_at) VALUES (?, ?, ?)").bind(
				event.event_id,
				provider,
				new Date().toISOString(),
			),
			moveCall(env, event, at),
			// Only this update ends the call with this outcome at this instant: not a call closed
			// otherwise (a timeout), nor one another final event got to first.
			...eventStatements(env.DB, call.account_id, completed, {
				sql: "EXISTS (SELECT 1 FROM calls WHERE id = ? AND status = ? AND ended_at = ?)",
				binds: [call.id, event.status, at],
			}),
		]);
	} catch (error) {
		if (!isRecordedAlready(error)) throw error;
		await notifyPacerAgain(env, event.call_id);
		return "duplicate";
	}
	const [, moved, ...announced] = results;
	if (!moved || moved.meta.changes === 0) return "stale";
	await Promise.all([
		call.campaign_id ? notifyPacer(env, call.campaign_id, call.id, event.status as CallOutcome) : undefined,
		dispatchEvents(env, call.account_id, completed, deliveriesMade(announced)),
	]);
	return "applied";
}

/**
 * A call's progress (ringing, answered) announces nothing and frees nothing, so it needs no read
 * of the call first: the id is recorded only where the call exists, in the same batch as its move.
 */
async function applyProgress(env: Env, event: ProviderEvent, provider: string, at: string): Promise<ApplyResult> {
	let recorded: D1Result | undefined;
	let moved: D1Result | undefined;
	try {
		[recorded, moved] = await env.DB.batch([
			// An id seen before fails the whole batch, effect included.
			env.DB.prepare(
				"INSERT INTO provider_events (event_id, provider, received_at) SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM calls WHERE id = ?4)",
			).bind(event.event_id, provider, new Date().toISOString(), event.call_id),
			moveCall(env, event, at),
		]);
	} catch (error) {
		if (!isRecordedAlready(error)) throw error;
		await notifyPacerAgain(env, event.call_id);
		return "duplicate";
	}
	// Nothing to commit the id with, so it was not recorded.
	if (!recorded || recorded.meta.changes === 0) return "unknown-call";
	return !moved || moved.meta.changes === 0 ? "stale" : "applied";
}

/** Moves the call to the event's status, never backwards (the database decides against the row as it is). */
function moveCall(env: Env, event: ProviderEvent, at: string): D1PreparedStatement {
	const final = FINAL.has(event.status);
	return env.DB.prepare(
		`UPDATE calls SET status = ?1, updated_at = ?2, started_at = coalesce(started_at, ?2),
		        answered_at = CASE WHEN ?1 IN ('in_progress', 'completed') THEN coalesce(answered_at, ?2) ELSE answered_at END,
		        ended_at = CASE WHEN ?3 THEN ?2 ELSE ended_at END,
		        outcome = CASE WHEN ?3 THEN ?1 ELSE outcome END,
		        duration_seconds = coalesce(?4, duration_seconds),
		        failure_reason = CASE WHEN ?3 THEN coalesce(?7, failure_reason) ELSE failure_reason END,
		        provider_call_id = coalesce(provider_call_id, ?8)
		  WHERE id = ?5 AND ${RANK_SQL} < ?6`,
	).bind(
		event.status,
		at,
		final ? 1 : 0,
		event.duration_seconds ?? null,
		event.call_id,
		rank(event.status),
		event.failure_reason ?? null,
		event.provider_call_id ?? null,
	);
}

/** Frees the call's campaign slot; the pacer ignores a call it already closed. */
async function notifyPacer(env: Env, campaignId: string, callId: string, outcome: CallOutcome): Promise<void> {
	const pacer = env.CAMPAIGN_PACER.get(env.CAMPAIGN_PACER.idFromName(campaignId));
	await pacer.callEnded(campaignId, callId, outcome);
}

/**
 * A redelivery of a recorded event: the first delivery may have failed after its commit, before
 * the pacer heard of the call's end, so tell it again (idempotent) while the call is final.
 */
async function notifyPacerAgain(env: Env, callId: string): Promise<void> {
	const call = await findCall(env, callId);
	if (call?.campaign_id && FINAL.has(call.status)) {
		await notifyPacer(env, call.campaign_id, call.id, call.status as CallOutcome);
	}
}
