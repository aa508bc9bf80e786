import { type CampaignRow, configFromRow } from "../../durable-objects/campaign/config";
import { nowIso } from "../lib/time";
import { pacerOf } from "./campaigns";

/** Objects woken in parallel at a time: bounded so one sweep stays within its subrequest budget. */
export const SWEEP_BATCH = 50;
/** At most this many campaigns per sweep (one per minute); the rest wait for the next tick. */
export const SWEEP_LIMIT = 900;

/**
 * The cron backstop. Campaign objects wake themselves with alarms (window openings, retries,
 * timeouts, record retries) and on every call end; the sweep wakes those whose recorded wake
 * time has passed anyway — a lost alarm, a create whose first wake failed — and hands a
 * PATCHed config to pacers still running an older one (the PATCH's own hand-over failed), in
 * parallel batches.
 */
export async function sweepDueCampaigns(env: Env, now = Date.now()): Promise<{ due: number; woken: number; failed: number }> {
	const { results } = await env.DB.prepare(
		`SELECT * FROM autocall_campaigns
		  WHERE (status IN ('scheduled', 'active') AND (next_wake_at IS NULL OR next_wake_at <= ?1))
		     OR (status IN ('scheduled', 'active', 'paused') AND pacer_version < version)
		  ORDER BY next_wake_at LIMIT ?2`,
	)
		.bind(nowIso(now), SWEEP_LIMIT)
		.all<CampaignRow & { pacer_version: number }>();
	let woken = 0;
	let failed = 0;
	for (let start = 0; start < results.length; start += SWEEP_BATCH) {
		const outcomes = await Promise.allSettled(
			results
				.slice(start, start + SWEEP_BATCH)
				.map((row) =>
					row.pacer_version < row.version
						? pacerOf(env, row.id).configure(row.id, configFromRow(row))
						: pacerOf(env, row.id).wake(row.id),
				),
		);
		for (const outcome of outcomes) {
			if (outcome.status === "fulfilled") woken++;
			else {
				failed++;
				console.error("sweep: wake failed", outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason));
			}
		}
	}
	return { due: results.length, woken, failed };
}

/** Click-to-call calls that never got a final status are closed as `timeout` after MAX_CALL_SECONDS. */
export async function closeStaleCalls(env: Env, now = Date.now()): Promise<number> {
	const cutoff = nowIso(now - Number(env.MAX_CALL_SECONDS || 900) * 1000);
	const result = await env.DB.prepare(
		`UPDATE calls SET status = 'timeout', outcome = 'timeout', ended_at = ?1, updated_at = ?1
		  WHERE kind = 'click_to_call' AND ended_at IS NULL AND created_at < ?2`,
	)
		.bind(nowIso(now), cutoff)
		.run();
	return result.meta.changes;
}
