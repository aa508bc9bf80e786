import { type CampaignRow, configFromRow } from "../../durable-objects/campaign/config";
import {
	type ContactPolicy,
	type ContactPolicyRow,
	DEFAULT_CONTACT_POLICY,
	POLICY_COLUMNS,
	policyFromRow,
} from "../compliance/contact-policy";
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
 * PATCHed config, or the account's changed contact policy, to pacers still running an older
 * one (the write's own hand-over failed or did not reach them), in parallel batches.
 */
export async function sweepDueCampaigns(env: Env, now = Date.now()): Promise<{ due: number; woken: number; failed: number }> {
	const { results } = await env.DB.prepare(
		`SELECT *, coalesce((SELECT p.version FROM contact_policies p WHERE p.account_id = autocall_campaigns.account_id), 0) AS policy_version
		   FROM autocall_campaigns
		  WHERE (status IN ('scheduled', 'active') AND (next_wake_at IS NULL OR next_wake_at <= ?1))
		     OR (status IN ('scheduled', 'active', 'paused') AND pacer_version < version)
		     OR (status IN ('scheduled', 'active', 'paused')
		         AND pacer_policy_version < coalesce((SELECT p.version FROM contact_policies p WHERE p.account_id = autocall_campaigns.account_id), 0))
		  ORDER BY next_wake_at LIMIT ?2`,
	)
		.bind(nowIso(now), SWEEP_LIMIT)
		.all<CampaignRow & { pacer_version: number; pacer_policy_version: number; policy_version: number }>();
	// A failed read of the policies leaves them to the next sweep; the campaigns are woken anyway.
	const policies = await policiesOf(
		env.DB,
		results.filter((row) => row.pacer_policy_version < row.policy_version).map((row) => row.account_id),
	).catch((error: unknown) => {
		console.error("sweep: contact policies not read", error instanceof Error ? error.message : String(error));
		return new Map<string, ContactPolicy>();
	});
	let woken = 0;
	let failed = 0;
	for (let start = 0; start < results.length; start += SWEEP_BATCH) {
		const outcomes = await Promise.allSettled(
			results.slice(start, start + SWEEP_BATCH).map(async (row) => {
				const pacer = pacerOf(env, row.id);
				if (row.pacer_version < row.version) await pacer.configure(row.id, configFromRow(row));
				const policy = policies.get(row.account_id);
				if (policy && row.pacer_policy_version < policy.version) await pacer.applyPolicy(row.id, policy);
				else if (row.pacer_version >= row.version) await pacer.wake(row.id);
			}),
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

/** The contact policies of these accounts, in one read (none when no account needs one). */
async function policiesOf(db: D1Database, accountIds: string[]): Promise<Map<string, ContactPolicy>> {
	const accounts = [...new Set(accountIds)];
	if (!accounts.length) return new Map();
	const { results } = await db
		.prepare(`SELECT account_id, ${POLICY_COLUMNS} FROM contact_policies WHERE account_id IN (SELECT value FROM json_each(?))`)
		.bind(JSON.stringify(accounts))
		.all<ContactPolicyRow & { account_id: string }>();
	const found = new Map(results.map((row) => [row.account_id, policyFromRow(row)]));
	return new Map(accounts.map((account) => [account, found.get(account) ?? DEFAULT_CONTACT_POLICY]));
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
