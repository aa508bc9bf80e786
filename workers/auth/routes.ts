import type { z } from "zod";
import { admitLoginAttempt, forgetTokens } from "../guard/guard";
import { withHeaders } from "../guard/rate-limit-headers";
import { ApiError, notFound } from "../http/errors";
import { PageQuery, pageOf, pageOfRows } from "../http/pagination";
import { uuidParam } from "../http/params";
import { created, json, noContent } from "../http/responses";
import { DAY, nowIso } from "../lib/time";
import { publicRoute, type Route, route } from "../routing/route";
import { ensureBootstrapAdmin } from "./bootstrap";
import { burnPasswordCheck, iterationsFrom, verifyPassword } from "./passwords";
import type { Principal } from "./principal";
import { ApiToken, CreateApiTokenBody, CreatedApiToken, LoginBody, MeResponse, TokenResponse } from "./schemas";
import { hashToken, newTokenSecret, SESSION_TTL_MS } from "./tokens";

const tags = ["auth"];

interface TokenRecord {
	id: string;
	name: string;
	created_at: string;
	expires_at: string | null;
	revoked_at: string | null;
}

async function issueToken(
	env: Env,
	principal: Pick<Principal, "accountId" | "userId">,
	kind: "session" | "api",
	name: string | null,
	ttlMs?: number,
) {
	const secret = newTokenSecret(kind);
	const now = Date.now();
	const record: TokenRecord = {
		id: crypto.randomUUID(),
		name: name ?? "",
		created_at: nowIso(now),
		expires_at: ttlMs === undefined ? null : nowIso(now + ttlMs),
		revoked_at: null,
	};
	await env.DB.prepare(
		"INSERT INTO tokens (id, account_id, user_id, kind, name, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	)
		.bind(record.id, principal.accountId, principal.userId, kind, name, hashToken(secret), record.created_at, record.expires_at)
		.run();
	return { secret, record };
}

/** The documented fields of an API token, one by one: a column the table gains stays internal. */
const presentToken = (record: TokenRecord): z.infer<typeof ApiToken> => ({
	id: record.id,
	name: record.name,
	created_at: record.created_at,
	expires_at: record.expires_at,
	revoked_at: record.revoked_at,
});

/** Runs an UPDATE … RETURNING token_hash and makes those tokens' guards forget them at once. */
async function revokeTokens(update: D1PreparedStatement, env: Env): Promise<number> {
	const { results } = await update.all<{ token_hash: string }>();
	await forgetTokens(
		env,
		results.map((row) => row.token_hash),
	);
	return results.length;
}

const login = publicRoute({
	method: "POST",
	path: "/api/auth/login",
	summary:
		"Exchange username and password for a session token. Attempts per minute: 5 per IP and username, 20 failed per IP, 10 failed per username.",
	tags,
	body: LoginBody,
	responses: {
		// Every attempt that reached the login buckets is told about the one closest to refusing.
		200: {
			description: "Session token",
			schema: TokenResponse,
			headers: ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit"],
		},
		401: {
			description: "Wrong credentials",
			headers: ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit"],
		},
		429: {
			description: "Too many login attempts",
			headers: [
				"Retry-After",
				"X-RateLimit-Limit",
				"X-RateLimit-Remaining",
				"X-RateLimit-Reset",
				"RateLimit-Policy",
				"RateLimit",
			],
		},
	},
	async handler({ env, request, body }) {
		const ip = request.headers.get("CF-Connecting-IP") ?? "unknown";
		// Every bucket is checked before the password hash: a refused attempt costs no PBKDF2.
		const attempt = await admitLoginAttempt(env, ip, body.username);
		const rateHeaders = attempt.headers;
		await ensureBootstrapAdmin(env, body.username);
		const user = await env.DB.prepare("SELECT id, account_id, password_hash FROM users WHERE username = ? COLLATE NOCASE")
			.bind(body.username)
			.first<{ id: string; account_id: string; password_hash: string }>();
		const valid = user
			? await verifyPassword(body.password, user.password_hash)
			: await burnPasswordCheck(body.password, iterationsFrom(env)).then(() => false);
		if (!user || !valid) throw new ApiError(401, "Invalid username or password.", undefined, rateHeaders);
		await attempt.succeeded();
		const { secret, record } = await issueToken(
			env,
			{ accountId: user.account_id, userId: user.id },
			"session",
			null,
			SESSION_TTL_MS,
		);
		return withHeaders(json({ token: secret, token_type: "Bearer", expires_at: record.expires_at }), rateHeaders);
	},
});

const me = route({
	method: "GET",
	path: "/api/auth/me",
	summary: "The calling user, its account and the token in use.",
	tags,
	responses: { 200: { description: "Caller", schema: MeResponse } },
	handler: ({ principal: p }) =>
		json({
			user: { id: p.userId, username: p.username, role: p.role },
			account: { id: p.accountId, default_region: p.defaultRegion, rate_limits: p.rateLimits, max_connections: p.maxConnections },
			token: { id: p.tokenId, kind: p.tokenKind },
		}),
});

const logout = route({
	method: "POST",
	path: "/api/auth/logout",
	summary: "Revoke the token this request carries.",
	tags,
	responses: { 204: { description: "Revoked" } },
	async handler({ env, principal }) {
		await revokeTokens(
			env.DB.prepare("UPDATE tokens SET revoked_at = ? WHERE id = ? RETURNING token_hash").bind(nowIso(), principal.tokenId),
			env,
		);
		return noContent();
	},
});

const createApiToken = route({
	method: "POST",
	path: "/api/auth/tokens",
	summary: "Create a named long-lived API token for an integration; its secret is shown once.",
	tags,
	body: CreateApiTokenBody,
	responses: { 201: { description: "Token, with its secret", schema: CreatedApiToken } },
	async handler({ env, principal, body }) {
		const ttl = body.expires_in_days === undefined ? undefined : body.expires_in_days * DAY;
		const { secret, record } = await issueToken(env, principal, "api", body.name, ttl);
		return created({ ...presentToken(record), token: secret } satisfies z.infer<typeof CreatedApiToken>);
	},
});

const listApiTokens = route({
	method: "GET",
	path: "/api/auth/tokens",
	summary: "The account's API tokens (never their secrets).",
	tags,
	query: PageQuery,
	responses: { 200: { description: "A page of tokens", schema: pageOf(ApiToken) } },
	async handler({ env, principal, query }) {
		const { rows, next_cursor } = await pageOfRows<TokenRecord>(
			env.DB,
			`SELECT id, name, created_at, expires_at, revoked_at FROM tokens
			  WHERE account_id = ? AND kind = 'api'`,
			[principal.accountId],
			query,
		);
		return json({ data: rows.map(presentToken), next_cursor });
	},
});

const revokeApiToken = route({
	method: "DELETE",
	path: "/api/auth/tokens/:id",
	summary: "Revoke one of the account's API tokens.",
	tags,
	responses: { 204: { description: "Revoked" }, 404: { description: "No such token in this account" } },
	async handler({ env, principal, params }) {
		const revoked = await revokeTokens(
			env.DB.prepare(
				"UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND account_id = ? AND kind = 'api' RETURNING token_hash",
			).bind(nowIso(), uuidParam(params, "id", "Token"), principal.accountId),
			env,
		);
		if (revoked === 0) throw notFound("Token");
		return noContent();
	},
});

export const authRoutes: Route[] = [login, me, logout, createApiToken, listApiTokens, revokeApiToken];
