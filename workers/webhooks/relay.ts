import { enqueueDeliveries } from "../events/outbox";
import { DAY, MINUTE, nowIso } from "../lib/time";

/** How long provider event ids are kept for dedupe: longer than any provider's retry span. */
export const PROVIDER_EVENT_RETENTION_MS = 7 * DAY;

/**
 * The outbox relay, from the cron: deliveries whose queue message was lost (the send after
 * the commit failed, or a consumer died holding its lease) are queued again.
 */
export async function requeueStuckDeliveries(env: Env, now = Date.now()): Promise<number> {
	const { results } = await env.DB.prepare(
		`SELECT id FROM webhook_deliveries
		  WHERE (status = 'pending' AND next_attempt_at <= ?1) OR (status = 'sending' AND lease_until <= ?2)
		  ORDER BY next_attempt_at LIMIT 500`,
	)
		.bind(nowIso(now - 10 * MINUTE), nowIso(now))
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
