import { nowIso } from "../lib/time";
import type { IdempotencyUse } from "./replay";

export interface Claim {
	resource_type: string;
	resource_id: string;
}

/** What an earlier attempt in this key's current life created; an expired claim is no answer. */
export async function findClaim(db: D1Database, accountId: string, use: IdempotencyUse): Promise<Claim | null> {
	return db
		.prepare(
			"SELECT resource_type, resource_id FROM idempotency_claims WHERE account_id = ? AND idempotency_key = ? AND expires_at > ?",
		)
		.bind(accountId, use.key, nowIso(use.now))
		.first<Claim>();
}

/**
 * Statements to run in the same batch (transaction) as the write they claim. Only a claim
 * left by the key's expired previous life is cleared (the record is the authority on
 * expiry, hence its clock); a live claim stays, so any second attempt — after a 5xx, a lost
 * answer or a lapsed lock — fails the whole batch on the primary key and writes nothing.
 */
export function claimStatements(db: D1Database, accountId: string, use: IdempotencyUse, claim: Claim): D1PreparedStatement[] {
	return [
		db
			.prepare("DELETE FROM idempotency_claims WHERE account_id = ? AND idempotency_key = ? AND expires_at <= ?")
			.bind(accountId, use.key, nowIso(use.now)),
		db
			.prepare(
				"INSERT INTO idempotency_claims (account_id, idempotency_key, resource_type, resource_id, expires_at) VALUES (?, ?, ?, ?, ?)",
			)
			.bind(accountId, use.key, claim.resource_type, claim.resource_id, nowIso(use.expiresAt)),
	];
}

export const isUniqueViolation = (error: unknown) => String(error).includes("UNIQUE constraint failed");

/** Housekeeping for the cron: claims outlive their key only until then. */
export async function purgeExpiredClaims(db: D1Database, now = Date.now()): Promise<number> {
	const result = await db.prepare("DELETE FROM idempotency_claims WHERE expires_at <= ?").bind(nowIso(now)).run();
	return result.meta.changes;
}
