import { handOver, type QueuedCall } from "../../durable-objects/call-dispatcher";
import { nowIso, SECOND } from "../lib/time";

/**
 * The request that creates a call hands it over before answering, so a call still `queued`
 * after this long may never have been handed over. Short, so that a minute cron still lands
 * inside the call's dial window most of the time; a hand-over the dispatcher already has
 * changes nothing, so erring early costs one call.
 */
export const HAND_OVER_AFTER_MS = 10 * SECOND;
/** Calls handed over per run (one a minute); the rest wait for the next tick, newest first. */
export const BACKSTOP_LIMIT = 200;
/** Dispatchers called in parallel at a time: bounded to stay within the run's subrequest budget. */
const BACKSTOP_BATCH = 50;

/**
 * The cron backstop for click-to-call: hands over calls still `queued` whose request died (or
 * whose hand-over failed) after the call was committed. The dispatcher fails those too late to
 * ring with a clear reason. Older than MAX_CALL_SECONDS, the stale-call sweep closes them instead.
 */
export async function handOverQueuedCalls(
	env: Env,
	now = Date.now(),
): Promise<{ queued: number; handedOver: number; failed: number }> {
	const { results } = await env.DB.prepare(
		`SELECT id, account_id, to_phone, caller_id, created_at,
		        (SELECT coalesce(e.sip_uri, e.forward_to) FROM extensions e
		          WHERE e.account_id = calls.account_id AND e.extension = calls.from_extension) AS agent_leg
		   FROM calls
		  WHERE kind = 'click_to_call' AND status = 'queued' AND created_at <= ?1 AND created_at >= ?2
		  ORDER BY created_at DESC LIMIT ?3`,
	)
		.bind(nowIso(now - HAND_OVER_AFTER_MS), nowIso(now - Number(env.MAX_CALL_SECONDS || 900) * SECOND), BACKSTOP_LIMIT)
		.all<QueuedCall>();
	let handedOver = 0;
	let failed = 0;
	for (let start = 0; start < results.length; start += BACKSTOP_BATCH) {
		const outcomes = await Promise.allSettled(
			results.slice(start, start + BACKSTOP_BATCH).map((call) => handOver(env, call, now)),
		);
		for (const outcome of outcomes) {
			if (outcome.status === "rejected") {
				failed++;
				console.error(
					"dial backstop: hand-over failed",
					outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason),
				);
			} else if (outcome.value) handedOver++;
		}
	}
	return { queued: results.length, handedOver, failed };
}
