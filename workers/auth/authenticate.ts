import { unauthorized } from "../http/errors";
import { constantTimeEqual } from "../lib/crypto";
import type { Principal, Role } from "./principal";
import { bearerToken, hashToken } from "./tokens";

interface TokenRow {
	token_id: string;
	token_hash: string;
	kind: "session" | "api";
	expires_at: string | null;
	revoked_at: string | null;
	user_id: string;
	username: string;
	role: Role;
	account_id: string;
	default_region: string;
	rate_limits: string;
	max_connections: number;
}

/** One D1 read: the token, its user and its account's limits together. */
export async function authenticate(request: Request, env: Env, now = Date.now()): Promise<Principal> {
	const secret = bearerToken(request);
	if (!secret) throw unauthorized();
	const hash = await hashToken(secret);
	const row = await env.DB.prepare(
		`SELECT t.id AS token_id, t.token_hash, t.kind, t.expires_at, t.revoked_at,
		        u.id AS user_id, u.username, u.role,
		        a.id AS account_id, a.default_region, a.rate_limits, a.max_connections
		   FROM tokens t JOIN users u ON u.id = t.user_id JOIN accounts a ON a.id = t.account_id
		  WHERE t.token_hash = ?`,
	)
		.bind(hash)
		.first<TokenRow>();
	if (!row || !constantTimeEqual(row.token_hash, hash) || !isLive(row, now)) throw unauthorized();
	return {
		tokenId: row.token_id,
		tokenKind: row.kind,
		userId: row.user_id,
		username: row.username,
		role: row.role,
		accountId: row.account_id,
		defaultRegion: row.default_region,
		rateLimits: JSON.parse(row.rate_limits),
		maxConnections: row.max_connections,
	};
}

function isLive(row: TokenRow, now: number): boolean {
	if (row.revoked_at) return false;
	return row.expires_at === null || Date.parse(row.expires_at) > now;
}
