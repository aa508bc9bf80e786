import { nowIso } from "../lib/time";
import { IDEMPOTENCY_TTL_MS } from "./replay";

export interface Claim {
	resource_type: string;
	resource_id: string;
}

/** The resource a key already created, if its claim is still live. */
export async function findClaim(db: D1Database, accountId: string, key: string, now = Date.now()): Promise<Claim | null> {
	return db
		.prepare(
			"SELECT resource_type, resource_id FROM idempotency_claims WHERE account_id = ? AND idempotency_key = ? AND expires_at > ?",
		)
		.bind(accountId, key, nowIso(now))
		.first<Claim>();
}

/**
 * Statements to run in the same batch (transaction) as the write they claim: a second
 * claim of a live key violates the primary key and rolls the whole write back.
 */
export function claimStatements(
	db: D1Database,
	accountId: string,
	key: string,
	claim: Claim,
	now = Date.now(),
): D1PreparedStatement[] {
	return [
		db
			.prepare("DELETE FROM idempotency_claims WHERE account_id = ? AND idempotency_key = ? AND expires_at <= ?")
			.bind(accountId, key, nowIso(now)),
		db
			.prepare(
				"INSERT INTO idempotency_claims (account_id, idempotency_key, resource_type, resource_id, expires_at) VALUES (?, ?, ?, ?, ?)",
			)
			.bind(accountId, key, claim.resource_type, claim.resource_id, nowIso(now + IDEMPOTENCY_TTL_MS)),
	];
}

export const isUniqueViolation = (error: unknown) => String(error).includes("UNIQUE constraint failed");

export async function purgeExpiredClaims(db: D1Database, now = Date.now()): Promise<number> {
	const result = await db.prepare("DELETE FROM idempotency_claims WHERE expires_at <= ?").bind(nowIso(now)).run();
	return result.meta.changes;
}
