import type { z } from "zod";
import type { Principal } from "../auth/principal";
import { limitFor, RATE_LIMIT_GROUPS, type RateLimitGroup, type RateLimitOverrides } from "../guard/rate-limit-groups";
import { ApiError, invalidField, notFound } from "../http/errors";
import { expectedVersion, preconditionFailed, resourceResponse, type VersionMatch } from "../http/etag";
import { takeBack } from "../http/representation";
import { nowIso } from "../lib/time";
import { type Route, route } from "../routing/route";
import { webhookUrlProblem } from "../webhooks/urls";
import { AccountSettings, AccountSettingsPatch } from "./schemas";

const tags = ["account"];
const PATH = "/api/account";

/** An account as stored (the columns both the account's own routes and the admin's read). */
export interface AccountRow {
	id: string;
	name: string;
	default_region: string;
	rate_limits: string;
	max_connections: number;
	agent_answer_url: string | null;
	created_at: string;
	updated_at: string;
}

const COLUMNS = "id, name, default_region, rate_limits, max_connections, agent_answer_url, created_at, updated_at";

/**
 * The `updated_at` of a write to an account: now, or a millisecond past the current value when
 * the clock has not moved on (two writes in one millisecond, or a clock behind the stored time).
 * Strictly increasing, so every write changes the account's ETag (accounts have no version column).
 */
export const nextUpdatedAt = (nowParam: `?${number}`) =>
	`max(${nowParam}, strftime('%Y-%m-%dT%H:%M:%fZ', updated_at, '+0.001 seconds'))`;

export function effectiveRateLimits(rateLimits: RateLimitOverrides): Record<RateLimitGroup, number> {
	const groups = Object.keys(RATE_LIMIT_GROUPS) as RateLimitGroup[];
	return Object.fromEntries(groups.map((group) => [group, limitFor(group, rateLimits)])) as Record<RateLimitGroup, number>;
}

/** Field by field: the per-group overrides and the platform flag are the admin's business. */
const present = (row: AccountRow): z.infer<typeof AccountSettings> => ({
	id: row.id,
	name: row.name,
	default_region: row.default_region,
	agent_answer_url: row.agent_answer_url,
	max_connections: row.max_connections,
	effective_rate_limits: effectiveRateLimits(JSON.parse(row.rate_limits)),
	created_at: row.created_at,
	updated_at: row.updated_at,
});

/** The account's ETag version: its `updated_at` in epoch milliseconds (see `nextUpdatedAt`). */
const versionOf = (row: AccountRow) => Date.parse(row.updated_at);

/** The `updated_at` values an If-Match accepts, as JSON for `json_each`; null when any will do. */
function acceptedUpdatedAt(match: VersionMatch): string | null {
	if (match === undefined || match === "any") return null;
	// A version that is no instant (a tag this server never issued) matches nothing.
	const instants = match.filter((ms) => Number.isFinite(new Date(ms).getTime())).map((ms) => new Date(ms).toISOString());
	return JSON.stringify(instants);
}

/**
 * A 422 on `field` unless `url` may receive the carrier's requests in this deployment: the
 * rules of webhook endpoints, since the same happens to it (something fetches whatever the
 * account stored).
 */
export function requireAgentAnswerUrl(env: Env, url: string, field = "agent_answer_url"): string {
	const problem = webhookUrlProblem(url, env.ENVIRONMENT);
	if (problem) throw invalidField(field, problem);
	return url;
}

/** Members read the settings; the owner (and the platform admin, of the platform's own account) changes them. */
export function requireOwner(principal: Principal) {
	if (principal.role !== "owner" && principal.role !== "platform_admin") {
		throw new ApiError(403, "Only the account's owner can change its settings.");
	}
}

async function findAccount(db: D1Database, accountId: string): Promise<AccountRow> {
	const row = await db.prepare(`SELECT ${COLUMNS} FROM accounts WHERE id = ?`).bind(accountId).first<AccountRow>();
	// The token's account always exists; a missing row means it was removed under the token.
	if (!row) throw notFound("Account");
	return row;
}

const get = route({
	method: "GET",
	path: PATH,
	summary: "The caller's own account settings, with an ETag (If-None-Match → 304). Every user of the account may read them.",
	tags,
	headers: ["If-None-Match"],
	responses: {
		200: { description: "Account settings", schema: AccountSettings, headers: ["ETag"] },
		304: { description: "Not modified" },
	},
	async handler({ env, principal, request }) {
		const row = await findAccount(env.DB, principal.accountId);
		return resourceResponse(request, present(row), versionOf(row));
	},
});

const patch = route({
	method: "PATCH",
	path: PATH,
	summary:
		"Change the account's name or agent_answer_url (null clears it); the owner only. With If-Match, only if unchanged since that GET. Takes back the GET representation: `id`, timestamps and the computed limits may be sent (ignored; another id, region or connection cap is a 422: the platform admin sets those).",
	tags,
	body: AccountSettingsPatch,
	headers: ["If-Match"],
	responses: {
		200: { description: "Account settings", schema: AccountSettings, headers: ["ETag"] },
		403: { description: "Not the account's owner" },
		412: { description: "Changed since the If-Match ETag" },
	},
	async handler({ env, principal, body, request }) {
		requireOwner(principal);
		const current = await findAccount(env.DB, principal.accountId);
		const changes = takeBack(
			body,
			{ id: current.id, default_region: current.default_region, max_connections: current.max_connections },
			["effective_rate_limits"],
		);
		const url = changes.agent_answer_url;
		if (typeof url === "string") requireAgentAnswerUrl(env, url);
		const accepted = acceptedUpdatedAt(expectedVersion(request));
		// One compare-and-set on updated_at: of concurrent writers with the same If-Match one wins.
		const row = await env.DB.prepare(
			`UPDATE accounts
			    SET name = coalesce(?1, name),
			        agent_answer_url = CASE WHEN ?2 THEN ?3 ELSE agent_answer_url END,
			        updated_at = ${nextUpdatedAt("?4")}
			  WHERE id = ?5 AND (?6 IS NULL OR updated_at IN (SELECT value FROM json_each(?6)))
			RETURNING ${COLUMNS}`,
		)
			.bind(changes.name ?? null, url === undefined ? 0 : 1, url ?? null, nowIso(), current.id, accepted)
			.first<AccountRow>();
		if (!row) throw preconditionFailed();
		return resourceResponse(request, present(row), versionOf(row));
	},
});

export const accountRoutes: Route[] = [get, patch];
