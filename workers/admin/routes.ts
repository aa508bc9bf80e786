import { z } from "zod";
import { hashPassword, iterationsFrom } from "../auth/passwords";
import { forgetTokens } from "../guard/guard";
import { limitFor, RATE_LIMIT_GROUPS, type RateLimitGroup, type RateLimitOverrides } from "../guard/rate-limit-groups";
import { ApiError, notFound } from "../http/errors";
import { PageQuery, pageOf, pageOfRows } from "../http/pagination";
import { created, json } from "../http/responses";
import { nowIso } from "../lib/time";
import { type Route, route } from "../routing/route";
import { Account, CreateAccountBody, CreatedAccount, UpdateAccountBody } from "./schemas";

const tags = ["admin"];

interface AccountRow {
	id: string;
	name: string;
	default_region: string;
	rate_limits: string;
	max_connections: number;
	created_at: string;
	updated_at: string;
}

function present(row: AccountRow) {
	const rateLimits: RateLimitOverrides = JSON.parse(row.rate_limits);
	const groups = Object.keys(RATE_LIMIT_GROUPS) as RateLimitGroup[];
	return {
		...row,
		rate_limits: rateLimits,
		effective_rate_limits: Object.fromEntries(groups.map((group) => [group, limitFor(group, rateLimits)])),
	};
}

async function findAccount(env: Env, id: string): Promise<AccountRow> {
	const row = z.uuid().safeParse(id).success
		? await env.DB.prepare("SELECT * FROM accounts WHERE id = ? AND is_platform = 0").bind(id).first<AccountRow>()
		: null;
	if (!row) throw notFound("Account");
	return row;
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
		const taken = await env.DB.prepare("SELECT 1 FROM users WHERE username = ? COLLATE NOCASE").bind(body.username).first();
		if (taken) throw new ApiError(409, "That username is already taken.");
		const now = nowIso();
		const row: AccountRow = {
			id: crypto.randomUUID(),
			name: body.name,
			default_region: body.default_region,
			rate_limits: JSON.stringify(body.rate_limits),
			max_connections: body.max_connections,
			created_at: now,
			updated_at: now,
		};
		const owner = { id: crypto.randomUUID(), username: body.username };
		const passwordHash = await hashPassword(body.password, iterationsFrom(env));
		try {
			await env.DB.batch([
				env.DB.prepare(
					"INSERT INTO accounts (id, name, default_region, rate_limits, max_connections, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
				).bind(row.id, row.name, row.default_region, row.rate_limits, row.max_connections, now, now),
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
	summary: "Change an account: raise its rate limits (per group) or its connection cap.",
	tags,
	body: UpdateAccountBody,
	responses: { 200: { description: "Account", schema: Account }, 404: { description: "No such account" } },
	async handler({ env, params, body }) {
		const current = await findAccount(env, params.id ?? "");
		const limits: Record<string, number | null> = { ...JSON.parse(current.rate_limits), ...body.rate_limits };
		const merged = Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== null));
		const next: AccountRow = {
			...current,
			name: body.name ?? current.name,
			default_region: body.default_region ?? current.default_region,
			max_connections: body.max_connections ?? current.max_connections,
			rate_limits: JSON.stringify(merged),
			updated_at: nowIso(),
		};
		await env.DB.prepare(
			"UPDATE accounts SET name = ?, default_region = ?, max_connections = ?, rate_limits = ?, updated_at = ? WHERE id = ?",
		)
			.bind(next.name, next.default_region, next.max_connections, next.rate_limits, next.updated_at, next.id)
			.run();
		// Guards cache their token's account limits; make every live token of the account reload them.
		const live = await env.DB.prepare(
			"SELECT token_hash FROM tokens WHERE account_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)",
		)
			.bind(next.id, next.updated_at)
			.all<{ token_hash: string }>();
		await forgetTokens(
			env,
			live.results.map((row) => row.token_hash),
		);
		return json(present(next));
	},
});

export const adminRoutes: Route[] = [createAccount, listAccounts, getAccount, updateAccount];
