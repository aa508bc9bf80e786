import { nowIso } from "../lib/time";
import { patternsFor } from "../webhooks/catalog";
import type { AccountEvent } from "./event";

/**
 * A condition the events' rows are written under, checked inside the transaction: for events
 * that only exist if the change before them in the batch took effect. Its SQL comes last in
 * each statement, so its plain `?` placeholders take `binds` after the statement's own.
 */
export interface EventGuard {
	sql: string;
	binds: unknown[];
}

/**
 * Statements that record events and their webhook deliveries. Run them in the same batch
 * (transaction) as the change that caused the events, so that none is lost; re-running them
 * for the same events adds nothing (event ids are unique, one delivery per endpoint).
 */
export function eventStatements(
	db: D1Database,
	accountId: string,
	events: readonly AccountEvent[],
	guard: EventGuard = { sql: "1", binds: [] },
): D1PreparedStatement[] {
	// A delivery's clock is ours, not the event's: an event stamped by a provider's skewed clock
	// must neither wait for its first attempt nor look overdue to the relay.
	const queuedAt = nowIso();
	return events.flatMap((event) => [
		db
			.prepare(
				`INSERT OR IGNORE INTO events (id, account_id, type, payload, created_at)
				 SELECT ?1, ?2, ?3, ?4, ?5 WHERE ${guard.sql}`,
			)
			.bind(event.id, accountId, event.type, JSON.stringify(event), event.created_at, ...guard.binds),
		// Deliveries need the event's row (a foreign key): under a guard that held it back, none are made.
		db
			.prepare(
				`INSERT INTO webhook_deliveries (id, account_id, endpoint_id, event_id, status, attempts, next_attempt_at, created_at, updated_at)
				 SELECT 'dlv_' || lower(hex(randomblob(16))), ?1, w.id, ?2, 'pending', 0, ?3, ?3, ?3
				   FROM webhook_endpoints w
				  WHERE w.account_id = ?1 AND w.enabled = 1
				    AND EXISTS (SELECT 1 FROM events e WHERE e.id = ?2)
				    AND EXISTS (SELECT 1 FROM json_each(w.events) s WHERE s.value IN (SELECT value FROM json_each(?4)))
				    AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = ?2 AND d.endpoint_id = w.id)
				    AND ${guard.sql}
				 RETURNING id`,
			)
			.bind(accountId, event.id, queuedAt, JSON.stringify(patternsFor(event.type)), ...guard.binds),
	]);
}

/**
 * The deliveries a batch made, from its results for the statements `eventStatements` gave it
 * (in their order): every second one inserts an event's deliveries and returns their ids.
 */
export function deliveriesMade(results: readonly D1Result[]): string[] {
	return results.flatMap((result, i) => (i % 2 === 1 ? (result.results as { id: string }[]).map((row) => row.id) : []));
}

/**
 * After the events are stored: push them to live streams and queue their webhook deliveries.
 * Best effort, never throws: the events and their deliveries are rows already, so a failure
 * here only delays them (the cron relay queues deliveries whose message never went out) and
 * must not turn a committed change into an error for its caller.
 */
export async function dispatchEvents(
	env: Env,
	accountId: string,
	events: readonly AccountEvent[],
	/** The deliveries the caller's own batch made for these events (deliveriesMade): no query for them. */
	made?: readonly string[],
): Promise<void> {
	if (events.length === 0) return;
	const deliveries = made
		? Promise.resolve(made)
		: env.DB.prepare(
				"SELECT id FROM webhook_deliveries WHERE event_id IN (SELECT value FROM json_each(?)) AND status = 'pending' AND attempts = 0",
			)
				.bind(JSON.stringify(events.map((event) => event.id)))
				.all<{ id: string }>()
				.then(({ results }) => results.map((row) => row.id));
	const outcomes = await Promise.allSettled([
		env.ACCOUNT_EVENTS.get(env.ACCOUNT_EVENTS.idFromName(accountId)).publish([...events]),
		deliveries.then((ids) => (ids.length ? enqueueDeliveries(env, ids) : undefined)),
	]);
	for (const outcome of outcomes) {
		if (outcome.status === "rejected") {
			const reason = outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason);
			console.warn("event dispatch failed; the relay will queue its deliveries", reason);
		}
	}
}

export async function enqueueDeliveries(env: Env, deliveryIds: readonly string[]): Promise<void> {
	for (let start = 0; start < deliveryIds.length; start += 100) {
		await env.WEBHOOK_QUEUE.sendBatch(deliveryIds.slice(start, start + 100).map((id) => ({ body: { delivery_id: id } })));
	}
}

/** For changes that have nothing else to write: store the events, then dispatch them. */
export async function recordEvents(
	env: Env,
	accountId: string,
	events: readonly AccountEvent[],
	alongWith: D1PreparedStatement[] = [],
) {
	if (events.length === 0 && alongWith.length === 0) return;
	await env.DB.batch([...alongWith, ...eventStatements(env.DB, accountId, events)]);
	await dispatchEvents(env, accountId, events);
}
