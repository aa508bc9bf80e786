import { z } from "zod";
import { ApiError, invalidField, notFound } from "../http/errors";
import { cacheableResponse } from "../http/etag";
import { uuidParam } from "../http/params";
import { noContent } from "../http/responses";
import { isUniqueViolation } from "../idempotency/claims";
import { nowIso } from "../lib/time";
import { type Route, route } from "../routing/route";
import { Queue, QueueBody } from "./schemas";

const tags = ["pbx"];

const list = route({
	method: "GET",
	path: "/api/pbx/queues",
	summary: "The account's call queues. Cacheable: send If-None-Match with the ETag.",
	tags,
	headers: ["If-None-Match"],
	responses: {
		200: { description: "Queues", schema: z.object({ data: z.array(Queue) }), headers: ["ETag", "Cache-Control"] },
		304: { description: "Not modified" },
	},
	async handler({ env, principal, request }) {
		const { results } = await env.DB.prepare(
			"SELECT id, name, strategy, extensions, created_at FROM queues WHERE account_id = ? ORDER BY created_at, id",
		)
			.bind(principal.accountId)
			.all<{ id: string; name: string; strategy: string; extensions: string; created_at: string }>();
		// Field by field, never the row: what the API shows is what Queue documents.
		const data = results.map(
			(row): z.infer<typeof Queue> => ({
				id: row.id,
				name: row.name,
				strategy: row.strategy,
				extensions: JSON.parse(row.extensions),
				created_at: row.created_at,
			}),
		);
		return cacheableResponse(request, { data });
	},
});

const create = route({
	method: "POST",
	path: "/api/pbx/queues",
	summary: "Create a call queue over some of the account's extensions.",
	tags,
	body: QueueBody,
	responses: { 201: { description: "Queue", schema: Queue }, 409: { description: "Name taken" } },
	async handler({ env, principal, body }) {
		const members = [...new Set(body.extensions)];
		if (members.length) {
			const { results } = await env.DB.prepare(
				"SELECT extension FROM extensions WHERE account_id = ? AND extension IN (SELECT value FROM json_each(?))",
			)
				.bind(principal.accountId, JSON.stringify(members))
				.all<{ extension: string }>();
			const known = new Set(results.map((row) => row.extension));
			const missing = members.filter((extension) => !known.has(extension));
			if (missing.length) {
				const message = `Unknown extensions: ${missing.join(", ")}.`;
				throw invalidField("extensions", message);
			}
		}
		const row = { id: crypto.randomUUID(), name: body.name, strategy: body.strategy, extensions: members, created_at: nowIso() };
		try {
			await env.DB.prepare(
				"INSERT INTO queues (id, account_id, name, strategy, extensions, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			)
				.bind(row.id, principal.accountId, row.name, row.strategy, JSON.stringify(members), row.created_at)
				.run();
		} catch (error) {
			if (isUniqueViolation(error)) throw new ApiError(409, `A queue named ${row.name} already exists.`);
			throw error;
		}
		return Response.json(row, { status: 201 });
	},
});

const remove = route({
	method: "DELETE",
	path: "/api/pbx/queues/:id",
	summary: "Delete a call queue.",
	tags,
	responses: { 204: { description: "Deleted" } },
	async handler({ env, principal, params }) {
		const id = uuidParam(params, "id", "Queue");
		const result = await env.DB.prepare("DELETE FROM queues WHERE id = ? AND account_id = ?").bind(id, principal.accountId).run();
		if (result.meta.changes === 0) throw notFound("Queue");
		return noContent();
	},
});

export const queueRoutes: Route[] = [list, create, remove];
