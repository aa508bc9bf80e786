import { constantTimeEqual } from "../lib/crypto";
import type { Principal, Role } from "./principal";

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

export interface PrincipalRecord {
	principal: Principal;
	/** Epoch ms; null for tokens that do not expire. */
	expiresAtMs: number | null;
}

/** One D1 read: the token, its user and its account's limits together. Null if revoked or unknown. */
export async function lookupPrincipal(db: D1Database, tokenHash: string): Promise<PrincipalRecord | null> {
	const row = await db
		.prepare(
			`SELECT t.id AS token_id, t.token_hash, t.kind, t.expires_at, t.revoked_at,
			        u.id AS user_id, u.username, u.role,
			        a.id AS account_id, a.default_region, a.rate_limits, a.max_connections
			   FROM tokens t JOIN users u ON u.id = t.user_id JOIN accounts a ON a.id = t.account_id
			  WHERE t.token_hash = ?`,
		)
		.bind(tokenHash)
		.first<TokenRow>();
	if (!row || row.revoked_at || !constantTimeEqual(row.token_hash, tokenHash)) return null;
	return {
		expiresAtMs: row.expires_at === null ? null : Date.parse(row.expires_at),
		principal: {
			tokenId: row.token_id,
			tokenKind: row.kind,
			userId: row.user_id,
			username: row.username,
			role: row.role,
			accountId: row.account_id,
			defaultRegion: row.default_region,
			rateLimits: JSON.parse(row.rate_limits),
			maxConnections: row.max_connections,
		},
	};
}

export const isExpired = (record: PrincipalRecord, now: number) => record.expiresAtMs !== null && record.expiresAtMs <= now;
