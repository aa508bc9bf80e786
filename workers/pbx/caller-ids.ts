import { z } from "zod";
import type { Principal } from "../auth/principal";
import { ApiError, invalidField, notFound } from "../http/errors";
import { cacheableResponse } from "../http/etag";
import { uuidParam } from "../http/params";
import { noContent } from "../http/responses";
import { isUniqueViolation } from "../idempotency/claims";
import { requirePhone } from "../lib/phone";
import { nowIso } from "../lib/time";
import { type Route, route } from "../routing/route";
import { CallerId, CallerIdBody } from "./schemas";

const tags = ["pbx"];

/**
 * A caller id wherever one is set (click-to-call, an extension): normalised to E.164 and one
 * of the account's own numbers, so no call goes out presenting a number the account does not hold.
 */
export async function requireCallerId(db: D1Database, principal: Principal, input: string, field = "caller_id"): Promise<string> {
	const number = requirePhone(input, principal.defaultRegion, field);
	const owned = await db
		.prepare("SELECT 1 FROM caller_ids WHERE account_id = ? AND number = ?")
		.bind(principal.accountId, number)
		.first();
	if (!owned) throw invalidField(field, "Not one of this account's caller ids (register it under /api/pbx/caller-ids).");
	return number;
}

const list = route({
	method: "GET",
	path: "/api/pbx/caller-ids",
	summary: "The account's caller ids. Cacheable: send If-None-Match with the ETag.",
	tags,
	headers: ["If-None-Match"],
	responses: {
		200: { description: "Caller ids", schema: z.object({ data: z.array(CallerId) }), headers: ["ETag", "Cache-Control"] },
		304: { description: "Not modified" },
	},
	async handler({ env, principal, request }) {
		const { results } = await env.DB.prepare(
			"SELECT id, number, label, created_at FROM caller_ids WHERE account_id = ? ORDER BY created_at, id",
		)
			.bind(principal.accountId)
			.all<z.infer<typeof CallerId>>();
		// Field by field, never the row: what the API shows is what CallerId documents.
		const data = results.map(
			({ id, number, label, created_at }): z.infer<typeof CallerId> => ({ id, number, label, created_at }),
		);
		return cacheableResponse(request, { data });
	},
});

const create = route({
	method: "POST",
	path: "/api/pbx/caller-ids",
	summary: "Register a caller id (normalised to E.164).",
	tags,
	body: CallerIdBody,
	responses: { 201: { description: "Caller id", schema: CallerId }, 409: { description: "Already registered" } },
	async handler({ env, principal, body }) {
		const row = {
			id: crypto.randomUUID(),
			number: requirePhone(body.number, principal.defaultRegion, "number"),
			label: body.label,
			created_at: nowIso(),
		};
		try {
			await env.DB.prepare("INSERT INTO caller_ids (id, account_id, number, label, created_at) VALUES (?, ?, ?, ?, ?)")
				.bind(row.id, principal.accountId, row.number, row.label, row.created_at)
				.run();
		} catch (error) {
			if (isUniqueViolation(error)) throw new ApiError(409, `Caller id ${row.number} is already registered.`);
			throw error;
		}
		return Response.json(row, { status: 201 });
	},
});

const remove = route({
	method: "DELETE",
	path: "/api/pbx/caller-ids/:id",
	summary: "Remove a caller id.",
	tags,
	responses: { 204: { description: "Removed" } },
	async handler({ env, principal, params }) {
		const id = uuidParam(params, "id", "Caller id");
		const result = await env.DB.prepare("DELETE FROM caller_ids WHERE id = ? AND account_id = ?")
			.bind(id, principal.accountId)
			.run();
		if (result.meta.changes === 0) throw notFound("Caller id");
		return noContent();
	},
});

export const callerIdRoutes: Route[] = [list, create, remove];
