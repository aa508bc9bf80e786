import { z } from "zod";
import type { CallOutcome } from "../../durable-objects/campaign/pacing";
import type { AccountEvent } from "../events/event";
import { dispatchEvents, eventStatements } from "../events/outbox";

export const ProviderEvent = z.strictObject({
	event_id: z.string().min(1).max(200),
	call_id: z.uuid(),
	status: z.enum(["ringing", "in_progress", "completed", "no_answer", "busy", "failed"]),
	occurred_at: z.iso.datetime(),
	duration_seconds: z.int().min(0).max(86_400).optional(),
});
export type ProviderEvent = z.infer<typeof ProviderEvent>;

const FINAL = new Set(["completed", "no_answer", "busy", "failed", "timeout", "cancelled"]);
/** Calls only move forward: an event older than the call's state changes nothing. */
const RANK: Record<string, number> = { queued: 0, dialing: 1, ringing: 2, in_progress: 3 };
const rank = (status: string) => (FINAL.has(status) ? 4 : (RANK[status] ?? 0));

export type ApplyResult = "applied" | "duplicate" | "stale" | "unknown-call";

interface CallRow {
	id: string;
	account_id: string;
	campaign_id: string | null;
	status: string;
	to_phone: string;
	attempt: number;
}

/**
 * Applies one provider callback exactly once: deduped by event id, ignored when it would move
 * the call backwards (late or out-of-order delivery), and a final status frees the campaign slot.
 */
export async function applyProviderEvent(env: Env, event: ProviderEvent, provider = "dialer"): Promise<ApplyResult> {
	const fresh = await env.DB.prepare("INSERT OR IGNORE INTO provider_events (event_id, provider, received_at) VALUES (?, ?, ?)")
		.bind(event.event_id, provider, new Date().toISOString())
		.run();
	if (fresh.meta.changes === 0) return "duplicate";
	const call = await env.DB.prepare("SELECT id, account_id, campaign_id, status, to_phone, attempt FROM calls WHERE id = ?")
		.bind(event.call_id)
		.first<CallRow>();
	if (!call) return "unknown-call";
	if (rank(event.status) <= rank(call.status)) return "stale";
	const final = FINAL.has(event.status);
	// The call's one completion event: its id is fixed, so it is recorded once with the update that causes it.
	const completed: AccountEvent[] = final
		? [
				{
					id: `evt_call_completed_${call.id.replaceAll("-", "")}`,
					type: "call.completed",
					created_at: event.occurred_at,
					data: {
						call_id: call.id,
						campaign_id: call.campaign_id,
						to: call.to_phone,
						outcome: event.status,
						attempt: call.attempt,
						duration_seconds: event.duration_seconds ?? null,
					},
				},
			]
		: [];
	const [moved] = await env.DB.batch([
		env.DB.prepare(
			`UPDATE calls SET status = ?1, updated_at = ?2, started_at = coalesce(started_at, ?2),
			        answered_at = CASE WHEN ?1 IN ('in_progress', 'completed') THEN coalesce(answered_at, ?2) ELSE answered_at END,
			        ended_at = CASE WHEN ?3 THEN ?2 ELSE ended_at END,
			        outcome = CASE WHEN ?3 THEN ?1 ELSE outcome END,
			        duration_seconds = coalesce(?4, duration_seconds)
			  WHERE id = ?5 AND status = ?6`,
		).bind(event.status, event.occurred_at, final ? 1 : 0, event.duration_seconds ?? null, call.id, call.status),
		...eventStatements(env.DB, call.account_id, completed),
	]);
	// Another event moved the call first: forget this one's id and decide again on the new state.
	if (!moved || moved.meta.changes === 0) {
		await env.DB.prepare("DELETE FROM provider_events WHERE event_id = ?").bind(event.event_id).run();
		return applyProviderEvent(env, event, provider);
	}
	if (final && call.campaign_id) {
		const pacer = env.CAMPAIGN_PACER.get(env.CAMPAIGN_PACER.idFromName(call.campaign_id));
		await pacer.callEnded(call.campaign_id, call.id, event.status as CallOutcome);
	}
	await dispatchEvents(env, call.account_id, completed);
	return "applied";
}
