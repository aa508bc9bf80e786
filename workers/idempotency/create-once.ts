import type { AuthedContext } from "../routing/route";
import { claimStatements, findClaim, isUniqueViolation } from "./claims";

/**
 * Writes a new resource in one transaction with the request's idempotency claim. When the
 * key already created something (a retry after a crash, or a race the lock did not cover),
 * nothing is written and the existing resource's id comes back instead.
 */
export async function createOnce(
	c: Pick<AuthedContext<unknown, unknown>, "env" | "principal" | "idempotencyKey">,
	resourceType: string,
	id: string,
	writes: (id: string) => D1PreparedStatement[],
): Promise<{ id: string; existed: boolean }> {
	const { env, principal, idempotencyKey: key } = c;
	const existing = key ? await findClaim(env.DB, principal.accountId, key) : null;
	if (existing) return { id: existing.resource_id, existed: true };
	const claims = key ? claimStatements(env.DB, principal.accountId, key, { resource_type: resourceType, resource_id: id }) : [];
	try {
		await env.DB.batch([...claims, ...writes(id)]);
	} catch (error) {
		const winner = key && isUniqueViolation(error) ? await findClaim(env.DB, principal.accountId, key) : null;
		if (winner) return { id: winner.resource_id, existed: true };
		throw error;
	}
	return { id, existed: false };
}
