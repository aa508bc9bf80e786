import { nowIso } from "../lib/time";
import type { IdempotencyUse } from "./replay";

export interface Claim {
	resource_type: string;
	resource_id: string;
}

/** What an earlier attempt with this key created, whatever its age. */
export async function findClaim(db: D1Database, accountId: string, key: string): Promise<Claim | null> {
	return db
		.prepare("SELECT resource_type, resource_id FROM idempotency_claims WHERE account_id = ? AND idempotency_key = ?")
		.bind(accountId, key)
		.first<Claim>();
}

/**
 * Statements to run in the same batch (transaction) as the write they claim. A fresh use of
 * a key first drops the claim of the key's expired previous life (the idempotency record is
 * the authority on expiry); a resumed use must not, so that two live attempts collide on
 * the primary key and only one write survives.
 */
export function claimStatements(db: D1Database, accountId: string, use: IdempotencyUse, claim: Claim): D1PreparedStatement[] {
	const insert = db
		.prepare(
			"INSERT INTO idempotency_claims (account_id, idempotency_key, resource_type, resource_id, expires_at) VALUES (?, ?, ?, ?, ?)",
		)
		.bind(accountId, use.key, claim.resource_type, claim.resource_id, nowIso(use.expiresAt));
	if (use.resumed) return [insert];
	return [
		db.prepare("DELETE FROM idempotency_claims WHERE account_id = ? AND idempotency_key = ?").bind(accountId, use.key),
		insert,
	];
}

export const isUniqueViolation = (error: unknown) => String(error).includes("UNIQUE constraint failed");

/** Housekeeping for the cron: claims outlive their key only until then. */
export async function purgeExpiredClaims(db: D1Database, now = Date.now()): Promise<number> {
	const result = await db.prepare("DELETE FROM idempotency_claims WHERE expires_at <= ?").bind(nowIso(now)).run();
	return result.meta.changes;
}
