import { z } from "zod";
import { PRINCIPAL_TTL_MS } from "../../durable-objects/token-guard";
import { type AccountRow, effectiveRateLimits, nextUpdatedAt, requireAgentAnswerUrl } from "../account/routes";
import { hashPassword, iterationsFrom } from "../auth/passwords";
import { forgetTokens } from "../guard/guard";
import type { RateLimitOverrides } from "../guard/rate-limit-groups";
import { ApiError, notFound } from "../http/errors";
import { PageQuery, pageOf, pageOfRows } from "../http/pagination";
import { created, json } from "../http/responses";
import { nowIso } from "../lib/time";
import { type Route, route } from "../routing/route";
import { Account, CreateAccountBody, CreatedAccount, UpdateAccountBody } from "./schemas";

const tags = ["admin"];

/** Field by field: a column added to `accounts` (is_platform was one) stays out of the API until documented. */
function present(row: AccountRow): z.infer<typeof Account> {
	const rateLimits: RateLimitOverrides = JSON.parse(row.rate_limits);
	return {
		id: row.id,
		name: row.name,
		default_region: row.default_region,
		rate_limits: rateLimits,
		effective_rate_limits: effectiveRateLimits(rateLimits),
		max_connections: row.max_connections,
		agent_answer_url: row.agent_answer_url,
		created_at: row.created_at,
		updated_at: row.updated_at,
	};
}

const isAccountId = (id: string) => z.uuid().safeParse(id).success;

async function findAccount(env: Env, id: string): Promise<AccountRow> {
	const row = isAccountId(id)
		? await env.DB.prepare("SELECT * FROM accounts WHERE id = ? AND is_platform = 0").bind(id).first<AccountRow>()
		: null;
	if (!row) throw notFound("Account");
	return row;
}

/**
 * Guards cache their token's account for PRINCIPAL_TTL_MS, so forgetting only hurries a
 * change along: the most recent tokens (the ones likely in use) are told at once, a bounded
 * number more in the background, and every other token converges when its cache lapses. An
 * account with thousands of tokens must not spend the request's subrequest budget on this.
 */
const FORGET_AT_ONCE = 10;
const FORGET_AT_MOST = 40;
const FORGET_BATCH = 10;

async function forgetAccountTokens(env: Env, ctx: ExecutionContext, accountId: string, now: string): Promise<void> {
	try {
		const { results } = await env.DB.prepare(
			`SELECT token_hash FROM tokens WHERE account_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
			  ORDER BY created_at DESC LIMIT ?`,
		)
			.bind(accountId, now, FORGET_AT_MOST)
			.all<{ token_hash: string }>();
		const hashes = results.map((row) => row.token_hash);
		await forgetQuietly(env, hashes.slice(0, FORGET_AT_ONCE));
		const later = hashes.slice(FORGET_AT_ONCE);
		if (later.length) {
			ctx.waitUntil(
				(async () => {
					for (let i = 0; i < later.length; i += FORGET_BATCH) await forgetQuietly(env, later.slice(i, i + FORGET_BATCH));
				})(),
			);
		}
	} catch (error) {
		console.warn("listing tokens to forget failed", accountId, error instanceof Error ? error.message : String(error));
	}
}

async function forgetQuietly(env: Env, hashes: string[]): Promise<void> {
	try {
		await forgetTokens(env, hashes);
	} catch (error) {
		console.warn("forgetting tokens failed", error instanceof Error ? error.message : String(error));
	}
}

const createAccount = route({
	access: "platform-admin",
	method: "POST",
	path: "/api/admin/accounts",
	summary: "Create a customer account with its first (owner) user.",
	tags,
	body: CreateAccountBody,
	responses: { 201: { description: "Account", schema: CreatedAccount }, 409: { description: "Username taken" } },
	async handler({ env, body }) {
		if (body.agent_answer_url !== null) requireAgentAnswerUrl(env, body.agent_answer_url);
		const taken = await env.DB.prepare("SELECT 1 FROM users WHERE username = ? COLLATE NOCASE").bind(body.username).first();
		if (taken) throw new ApiError(409, "That username is already taken.");
		const now = nowIso();
		const row: AccountRow = {
			id: crypto.randomUUID(),
			name: body.name,
			default_region: body.default_region,
			rate_limits: JSON.stringify(body.rate_limits),
			max_connections: body.max_connections,
			agent_answer_url: body.agent_answer_url,
			created_at: now,
			updated_at: now,
		};
		const owner = { id: crypto.randomUUID(), username: body.username };
		const passwordHash = await hashPassword(body.password, iterationsFrom(env));
		try {
			await env.DB.batch([
				env.DB.prepare(
					"INSERT INTO accounts (id, name, default_region, rate_limits, max_connections, agent_answer_url, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
				).bind(row.id, row.name, row.default_region, row.rate_limits, row.max_connections, row.agent_answer_url, now, now),
				env.DB.prepare(
					"INSERT INTO users (id, account_id, username, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, 'owner', ?, ?)",
				).bind(owner.id, row.id, owner.username, passwordHash, now, now),
			]);
		} catch (error) {
			if (String(error).includes("UNIQUE")) throw new ApiError(409, "That username is already taken.");
			throw error;
		}
		return created({ ...present(row), owner });
	},
});

const listAccounts = route({
	access: "platform-admin",
	method: "GET",
	path: "/api/admin/accounts",
	summary: "Customer accounts.",
	tags,
	query: PageQuery,
	responses: { 200: { description: "A page of accounts", schema: pageOf(Account) } },
	async handler({ env, query }) {
		const { rows, next_cursor } = await pageOfRows<AccountRow>(env.DB, `SELECT * FROM accounts WHERE is_platform = 0`, [], query);
		return json({ data: rows.map(present), next_cursor });
	},
});

const getAccount = route({
	access: "platform-admin",
	method: "GET",
	path: "/api/admin/accounts/:id",
	summary: "One customer account.",
	tags,
	responses: { 200: { description: "Account", schema: Account }, 404: { description: "No such account" } },
	handler: async ({ env, params }) => json(present(await findAccount(env, params.id ?? ""))),
});

const updateAccount = route({
	access: "platform-admin",
	method: "PATCH",
	path: "/api/admin/accounts/:id",
	summary: `Change an account: its name, region, connection cap, agent_answer_url (null clears it) or rate limits per group (merged with the current ones; null drops a group's override). Its most recent tokens see the change at once, every other token within ${PRINCIPAL_TTL_MS / 1000} s.`,
	tags,
	body: UpdateAccountBody,
	responses: { 200: { description: "Account", schema: Account }, 404: { description: "No such account" } },
	async handler({ env, ctx, params, body }) {
		const id = params.id ?? "";
		const url = body.agent_answer_url;
		if (typeof url === "string") requireAgentAnswerUrl(env, url);
		// One statement, so concurrent PATCHes of different groups cannot undo each other;
		// json_patch is RFC 7396 merge-patch, whose null removes a key.
		const row = isAccountId(id)
			? await env.DB.prepare(
					`UPDATE accounts
					    SET name = coalesce(?1, name), default_region = coalesce(?2, default_region),
					        max_connections = coalesce(?3, max_connections), rate_limits = json_patch(rate_limits, ?4),
					        agent_answer_url = CASE WHEN ?7 THEN ?8 ELSE agent_answer_url END, updated_at = ${nextUpdatedAt("?5")}
					  WHERE id = ?6 AND is_platform = 0
					RETURNING *`,
				)
					.bind(
						body.name ?? null,
						body.default_region ?? null,
						body.max_connections ?? null,
						JSON.stringify(body.rate_limits ?? {}),
						nowIso(),
						id,
						url === undefined ? 0 : 1,
						url ?? null,
					)
					.first<AccountRow>()
			: null;
		if (!row) throw notFound("Account");
		// The change is committed: nothing after this may turn the answer into a failure.
		await forgetAccountTokens(env, ctx, row.id, row.updated_at);
		return json(present(row));
	},
});

export const adminRoutes: Route[] = [createAccount, listAccounts, getAccount, updateAccount];
