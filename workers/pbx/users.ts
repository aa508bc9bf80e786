import { z } from "zod";
import { cacheableResponse } from "../http/etag";
import { type Route, route } from "../routing/route";

export const User = z.object({
	id: z.uuid(),
	username: z.string(),
	// The platform admin's own account lists its admin too.
	role: z.enum(["platform_admin", "owner", "member"]),
	created_at: z.iso.datetime(),
});

const listUsers = route({
	method: "GET",
	path: "/api/pbx/users",
	summary: "The account's users. Cacheable: send If-None-Match with the ETag.",
	tags: ["pbx"],
	headers: ["If-None-Match"],
	responses: {
		200: { description: "Users", schema: z.object({ data: z.array(User) }), headers: ["ETag", "Cache-Control"] },
		304: { description: "Not modified" },
	},
	async handler({ env, principal, request }) {
		const { results } = await env.DB.prepare(
			"SELECT id, username, role, created_at FROM users WHERE account_id = ? ORDER BY created_at, id",
		)
			.bind(principal.accountId)
			.all<z.infer<typeof User>>();
		// Field by field, never the row: what the API shows is what User documents.
		const data = results.map(({ id, username, role, created_at }): z.infer<typeof User> => ({ id, username, role, created_at }));
		return cacheableResponse(request, { data });
	},
});

export const userRoutes: Route[] = [listUsers];
