import type { AuthedContext } from "../routing/route";
import { claimStatements, findClaim, isUniqueViolation } from "./claims";

/**
 * Writes a new resource in one transaction with the request's idempotency claim. When an
 * earlier attempt with the same key already created it (it died before its response was
 * cached, or still runs past its lock), nothing is written and that resource's id returns.
 */
export async function createOnce(
	c: Pick<AuthedContext<unknown, unknown>, "env" | "principal" | "idempotency">,
	resourceType: string,
	id: string,
	writes: (id: string) => D1PreparedStatement[],
): Promise<{ id: string; existed: boolean }> {
	const { env, principal, idempotency: use } = c;
	const earlier = use?.resumed ? await findClaim(env.DB, principal.accountId, use.key) : null;
	if (earlier) return { id: earlier.resource_id, existed: true };
	const claims = use ? claimStatements(env.DB, principal.accountId, use, { resource_type: resourceType, resource_id: id }) : [];
	try {
		await env.DB.batch([...claims, ...writes(id)]);
	} catch (error) {
		const winner = use && isUniqueViolation(error) ? await findClaim(env.DB, principal.accountId, use.key) : null;
		if (winner) return { id: winner.resource_id, existed: true };
		throw error;
	}
	return { id, existed: false };
}
