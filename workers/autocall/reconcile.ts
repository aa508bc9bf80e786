import type { CallOutcome } from "../../durable-objects/campaign/pacing";
import type { ReconcileReport } from "../../durable-objects/campaign-pacer";
import { MINUTE, nowIso, SECOND } from "../lib/time";
import { pacerOf } from "./campaigns";
import { SWEEP_BATCH } from "./sweep";

/** Calls closed this recently are left alone: their pacer is normally told within the callback itself. */
const GRACE_MS = 30 * SECOND;
/**
 * Beyond its maximum duration, a call D1 still shows open is asked about too; not one that is
 * `queued` (waiting out a provider outage, or a paused campaign): it is open by design.
 */
const OPEN_MARGIN_MS = 5 * MINUTE;
const LIMIT = 500;

/**
 * The minute cron's reconciliation of D1 and the campaign pacers, for calls open on one side
 * and closed on the other: a call final in D1 whose pacer never acknowledged it (the
 * callback's hand-over failed, and the provider gave up redelivering), and a call the pacer
 * closed long ago that D1 still shows open (its record write keeps failing, or was lost).
 * Each pacer applies what it is told idempotently.
 */
export async function reconcileCampaignCalls(
	env: Env,
	now = Date.now(),
): Promise<{ calls: number; campaigns: number; failed: number }> {
	const maxCallMs = Number(env.MAX_CALL_SECONDS || 900) * SECOND;
	const [ended, open] = await Promise.all([
		env.DB.prepare(
			`SELECT id, campaign_id, outcome FROM calls
			  WHERE kind = 'campaign' AND ended_at IS NOT NULL AND pacer_closed_at IS NULL AND ended_at < ?
			  ORDER BY ended_at LIMIT ?`,
		)
			.bind(nowIso(now - GRACE_MS), LIMIT)
			.all<{ id: string; campaign_id: string; outcome: CallOutcome }>(),
		env.DB.prepare(
			`SELECT id, campaign_id FROM calls
			  WHERE kind = 'campaign' AND ended_at IS NULL AND status != 'queued' AND created_at < ?
			  ORDER BY created_at LIMIT ?`,
		)
			.bind(nowIso(now - maxCallMs - OPEN_MARGIN_MS), LIMIT)
			.all<{ id: string; campaign_id: string }>(),
	]);
	const reports = new Map<string, ReconcileReport>();
	const reportOf = (campaignId: string) => {
		let report = reports.get(campaignId);
		if (!report) {
			report = { ended: [], open: [] };
			reports.set(campaignId, report);
		}
		return report;
	};
	for (const call of ended.results) reportOf(call.campaign_id).ended.push({ id: call.id, outcome: call.outcome });
	for (const call of open.results) reportOf(call.campaign_id).open.push(call.id);

	const campaigns = [...reports.entries()];
	let failed = 0;
	for (let start = 0; start < campaigns.length; start += SWEEP_BATCH) {
		const outcomes = await Promise.allSettled(
			campaigns.slice(start, start + SWEEP_BATCH).map(([id, report]) => pacerOf(env, id).reconcile(id, report)),
		);
		for (const outcome of outcomes) {
			if (outcome.status === "rejected") {
				failed++;
				console.error("reconcile failed", outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason));
			}
		}
	}
	return { calls: ended.results.length + open.results.length, campaigns: campaigns.length, failed };
}
