import type { AuthedContext } from "../routing/route";
import { claimStatements, findClaim, isUniqueViolation } from "./claims";

/**
 * Writes a new resource in one transaction with the request's idempotency claim. When an
 * earlier attempt with the same key already created it (it failed or died after its write
 * committed, or still runs past its lock), the claim's primary key fails the batch, nothing
 * is written and that resource's id returns. The claim is read only on that conflict: the
 * usual path pays no extra round trip. `results` are the writes' own (for their RETURNING rows).
 */
export async function createOnce(
	c: Pick<AuthedContext<unknown, unknown>, "env" | "principal" | "idempotency">,
	resourceType: string,
	id: string,
	writes: (id: string) => D1PreparedStatement[],
): Promise<{ id: string; existed: boolean; results: D1Result[] }> {
	const { env, principal, idempotency: use } = c;
	if (!use) return { id, existed: false, results: await env.DB.batch(writes(id)) };
	const claims = claimStatements(env.DB, principal.accountId, use, { resource_type: resourceType, resource_id: id });
	try {
		const results = await env.DB.batch([...claims, ...writes(id)]);
		return { id, existed: false, results: results.slice(claims.length) };
	} catch (error) {
		// Another unique index (a lead's phone, say) is the caller's business.
		const earlier = isUniqueViolation(error) ? await findClaim(env.DB, principal.accountId, use) : null;
		if (earlier) return { id: earlier.resource_id, existed: true, results: [] };
		throw error;
	}
}
