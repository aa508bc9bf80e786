import type { ContactPolicy } from "../compliance/contact-policy";
import { pacerOf } from "./campaigns";
import { SWEEP_BATCH } from "./sweep";

/**
 * Hands a changed contact policy to the account's running campaigns at once: at most one
 * sweep batch of them, in parallel, from the request that changed it. A pacer this does not
 * reach (more campaigns than that, a failed call) still records the older policy version in
 * D1, and the minute cron's sweep hands it the current one: a PUT applies everywhere within
 * a minute, and at once for an account's first SWEEP_BATCH running campaigns.
 */
export async function handOverPolicy(
	env: Env,
	accountId: string,
	policy: ContactPolicy,
): Promise<{ reached: number; left: number }> {
	const { results } = await env.DB.prepare(
		`SELECT id FROM autocall_campaigns
		  WHERE account_id = ? AND status IN ('scheduled', 'active', 'paused') AND pacer_policy_version < ?
		  LIMIT ?`,
	)
		.bind(accountId, policy.version, SWEEP_BATCH + 1)
		.all<{ id: string }>();
	const now = results.slice(0, SWEEP_BATCH);
	const outcomes = await Promise.allSettled(now.map(({ id }) => pacerOf(env, id).applyPolicy(id, policy)));
	const failed = outcomes.filter((outcome) => outcome.status === "rejected").length;
	if (failed) console.warn("contact policy hand-over: pacers not reached; the cron sweep retries", failed);
	return { reached: now.length - failed, left: results.length - now.length + failed };
}
