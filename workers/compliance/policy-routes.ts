import { requireOwner } from "../account/routes";
import { handOverPolicy } from "../autocall/policy-handover";
import { expectedVersion, preconditionFailed, resourceResponse, versionsParam } from "../http/etag";
import { nowIso } from "../lib/time";
import { type Route, route } from "../routing/route";
import { type ContactPolicyRow, POLICY_COLUMNS, policyFromRow, presentPolicy, readContactPolicy } from "./contact-policy";
import { ContactPolicy, ContactPolicyBody } from "./schemas";

const tags = ["account"];
const PATH = "/api/account/contact-policy";

const get = route({
	method: "GET",
	path: PATH,
	summary:
		"The account's contact policy: recipient-local calling hours, what happens to recipients of unknown zone, and the frequency cap per number. Defaults until first PUT (no recipient hours, unknown zones use the campaign's, no cap). ETag (If-None-Match → 304); every user of the account may read it.",
	tags,
	headers: ["If-None-Match"],
	responses: {
		200: { description: "Contact policy", schema: ContactPolicy, headers: ["ETag"] },
		304: { description: "Not modified" },
	},
	async handler({ env, principal, request }) {
		const policy = await readContactPolicy(env.DB, principal.accountId);
		return resourceResponse(request, presentPolicy(policy), policy.version);
	},
});

const put = route({
	method: "PUT",
	path: PATH,
	summary:
		"Replace the account's contact policy (a field left out takes its default); the owner only. With If-Match, only if unchanged since that GET (the defaults' ETag is \"v0\"). Running campaigns apply it at once (up to 50 of them; the rest within a minute, at the next cron sweep): calls already started are not ended, calls not yet started wait for the new hours.",
	tags,
	body: ContactPolicyBody,
	headers: ["If-Match"],
	responses: {
		200: { description: "Contact policy", schema: ContactPolicy, headers: ["ETag"] },
		403: { description: "Not the account's owner" },
		412: { description: "Changed since the If-Match ETag" },
	},
	async handler({ env, principal, body, request }) {
		requireOwner(principal);
		const versions = versionsParam(expectedVersion(request));
		// One compare-and-set: an account with no row yet is at version 0, so the insert happens
		// only when 0 is acceptable; an existing row is updated only from a version If-Match names.
		const row = await env.DB.prepare(
			`INSERT INTO contact_policies (account_id, recipient_hours_start, recipient_hours_end, unknown_timezone,
			                               max_attempts_count, max_attempts_days, version, updated_at)
			 SELECT ?1, ?2, ?3, ?4, ?5, ?6, 1, ?7
			  WHERE ?8 IS NULL OR 0 IN (SELECT value FROM json_each(?8))
			     OR EXISTS (SELECT 1 FROM contact_policies WHERE account_id = ?1)
			 ON CONFLICT (account_id) DO UPDATE SET
			   recipient_hours_start = excluded.recipient_hours_start,
			   recipient_hours_end = excluded.recipient_hours_end,
			   unknown_timezone = excluded.unknown_timezone,
			   max_attempts_count = excluded.max_attempts_count,
			   max_attempts_days = excluded.max_attempts_days,
			   version = contact_policies.version + 1,
			   updated_at = excluded.updated_at
			 WHERE ?8 IS NULL OR contact_policies.version IN (SELECT value FROM json_each(?8))
			 RETURNING ${POLICY_COLUMNS}`,
		)
			.bind(
				principal.accountId,
				body.recipient_hours?.start ?? null,
				body.recipient_hours?.end ?? null,
				body.unknown_timezone,
				body.max_attempts_per_number?.count ?? null,
				body.max_attempts_per_number?.days ?? null,
				nowIso(),
				versions,
			)
			.first<ContactPolicyRow>();
		if (!row) throw preconditionFailed();
		const policy = policyFromRow(row);
		// Committed: a campaign the hand-over misses gets the policy from the cron sweep.
		await handOverPolicy(env, principal.accountId, policy).catch((error: unknown) =>
			console.error("contact policy hand-over failed", error instanceof Error ? error.message : String(error)),
		);
		return resourceResponse(request, presentPolicy(policy), policy.version);
	},
});

export const contactPolicyRoutes: Route[] = [get, put];
