import { enqueueDeliveries } from "../events/outbox";
import { DAY, MINUTE, nowIso } from "../lib/time";

/** How long provider event ids are kept for dedupe: longer than any provider's retry span. */
export const PROVIDER_EVENT_RETENTION_MS = 7 * DAY;

/**
 * How overdue a pending delivery must be before the relay assumes its message was lost. A
 * message that exists comes back on time (retry delays are exact, consumers batch for a
 * second); the grace only has to cover a backed-up queue. A copy it sends anyway is harmless
 * (the claim's lease lets one attempt through), and a lost send waits at most this long.
 */
export const RELAY_GRACE_MS = 10 * MINUTE;

/**
 * The outbox relay, from the cron: deliveries whose queue message was lost (the send after
 * the commit failed, or a consumer died holding its lease) are queued again. A re-queued
 * pending delivery is due from now, so it waits another grace before the next copy.
 */
export async function requeueStuckDeliveries(env: Env, now = Date.now()): Promise<number> {
	const { results } = await env.DB.prepare(
		`UPDATE webhook_deliveries SET next_attempt_at = CASE WHEN status = 'pending' THEN ?2 ELSE next_attempt_at END
		  WHERE id IN (SELECT id FROM webhook_deliveries
		                WHERE (status = 'pending' AND next_attempt_at <= ?1) OR (status = 'sending' AND lease_until <= ?2)
		                ORDER BY next_attempt_at LIMIT 500)
		  RETURNING id`,
	)
		.bind(nowIso(now - RELAY_GRACE_MS), nowIso(now))
		.all<{ id: string }>();
	await enqueueDeliveries(
		env,
		results.map((row) => row.id),
	);
	return results.length;
}

export async function purgeProviderEvents(env: Env, now = Date.now()): Promise<number> {
	const result = await env.DB.prepare("DELETE FROM provider_events WHERE received_at < ?")
		.bind(nowIso(now - PROVIDER_EVENT_RETENTION_MS))
		.run();
	return result.meta.changes;
}
