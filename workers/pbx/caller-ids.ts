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
import { CallerId, CallerIdBody, CallerIdPatch } from "./schemas";

const tags = ["pbx"];

interface CallerIdRow {
	id: string;
	number: string;
	label: string;
	is_default: number;
	created_at: string;
}

const COLUMNS = "id, number, label, is_default, created_at";

/** Field by field, never the row: what the API shows is what CallerId documents. */
const present = (row: CallerIdRow): z.infer<typeof CallerId> => ({
	id: row.id,
	number: row.number,
	label: row.label,
	is_default: row.is_default === 1,
	created_at: row.created_at,
});

/**
 * The number a call presents when none is named: the account's marked default, else its
 * oldest caller id, else null (the account has none).
 */
export async function defaultCallerId(db: D1Database, accountId: string): Promise<string | null> {
	const row = await db
		.prepare("SELECT number FROM caller_ids WHERE account_id = ? ORDER BY is_default DESC, created_at, id LIMIT 1")
		.bind(accountId)
		.first<{ number: string }>();
	return row?.number ?? null;
}

/**
 * Unmarks the account's default unless it is `keep`: the first statement of a batch that marks
 * `keep`, so the unique index (one default per account) never sees two. It only runs when
 * `keep` is the account's, so a PATCH of another account's id (a 404) changes nothing.
 */
const unmarkDefault = (db: D1Database, accountId: string, keep: string) =>
	db
		.prepare(
			`UPDATE caller_ids SET is_default = 0
			  WHERE account_id = ?1 AND is_default = 1 AND id <> ?2
			    AND EXISTS (SELECT 1 FROM caller_ids WHERE id = ?2 AND account_id = ?1)`,
		)
		.bind(accountId, keep);

export const NOT_A_CALLER_ID = "Not one of this account's caller ids (register it under /api/pbx/caller-ids).";

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
	if (!owned) throw invalidField(field, NOT_A_CALLER_ID);
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
		const { results } = await env.DB.prepare(`SELECT ${COLUMNS} FROM caller_ids WHERE account_id = ? ORDER BY created_at, id`)
			.bind(principal.accountId)
			.all<CallerIdRow>();
		return cacheableResponse(request, { data: results.map(present) });
	},
});

const create = route({
	method: "POST",
	path: "/api/pbx/caller-ids",
	summary: "Register a caller id (normalised to E.164); `is_default: true` makes it the account's default.",
	tags,
	body: CallerIdBody,
	responses: {
		201: { description: "Caller id", schema: CallerId },
		409: { description: "Already registered, by this account or another (a number presents one account only)" },
	},
	async handler({ env, principal, body }) {
		const row: CallerIdRow = {
			id: crypto.randomUUID(),
			number: requirePhone(body.number, principal.defaultRegion, "number"),
			label: body.label,
			is_default: body.is_default ? 1 : 0,
			created_at: nowIso(),
		};
		const insert = env.DB.prepare(
			"INSERT INTO caller_ids (id, account_id, number, label, is_default, created_at) VALUES (?, ?, ?, ?, ?, ?)",
		).bind(row.id, principal.accountId, row.number, row.label, row.is_default, row.created_at);
		// A new default unmarks the old one in the same transaction; a refused insert rolls both back.
		const unmarkOld = env.DB.prepare("UPDATE caller_ids SET is_default = 0 WHERE account_id = ? AND is_default = 1").bind(
			principal.accountId,
		);
		try {
			await env.DB.batch(body.is_default ? [unmarkOld, insert] : [insert]);
		} catch (error) {
			if (!isUniqueViolation(error)) throw error;
			const holder = await env.DB.prepare("SELECT account_id FROM caller_ids WHERE number = ?")
				.bind(row.number)
				.first<{ account_id: string }>();
			// Every account dials through the same carrier account, where the number would be accepted as From.
			if (holder && holder.account_id !== principal.accountId) {
				throw new ApiError(409, `Caller id ${row.number} is registered by another account: a number presents one account only.`);
			}
			throw new ApiError(409, `Caller id ${row.number} is already registered.`);
		}
		return Response.json(present(row), { status: 201 });
	},
});

const patch = route({
	method: "PATCH",
	path: "/api/pbx/caller-ids/:id",
	summary:
		"Relabel a caller id, or mark it the account's default (`is_default: true`, which unmarks the previous default in the same transaction) or unmark it (`false`: calls then present the oldest caller id).",
	tags,
	body: CallerIdPatch,
	responses: { 200: { description: "Caller id", schema: CallerId } },
	async handler({ env, principal, params, body }) {
		const id = uuidParam(params, "id", "Caller id");
		const update = env.DB.prepare(
			`UPDATE caller_ids SET label = coalesce(?1, label), is_default = coalesce(?2, is_default)
			  WHERE id = ?3 AND account_id = ?4 RETURNING ${COLUMNS}`,
		).bind(body.label ?? null, body.is_default === undefined ? null : body.is_default ? 1 : 0, id, principal.accountId);
		const results = await env.DB.batch<CallerIdRow>(
			body.is_default ? [unmarkDefault(env.DB, principal.accountId, id), update] : [update],
		);
		const row = results.at(-1)?.results[0];
		if (!row) throw notFound("Caller id");
		return Response.json(present(row));
	},
});

const remove = route({
	method: "DELETE",
	path: "/api/pbx/caller-ids/:id",
	summary: "Remove a caller id. Removing the default leaves none marked: calls then present the oldest.",
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

export const callerIdRoutes: Route[] = [list, create, patch, remove];
