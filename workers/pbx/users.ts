import { z } from "zod";
import { json } from "../http/responses";
import { type Route, route } from "../routing/route";

const User = z.object({ id: z.uuid(), username: z.string(), role: z.enum(["owner", "member"]), created_at: z.iso.datetime() });

const listUsers = route({
	method: "GET",
	path: "/api/pbx/users",
	summary: "The account's users.",
	tags: ["pbx"],
	responses: { 200: { description: "Users", schema: z.object({ data: z.array(User) }) } },
	async handler({ env, principal }) {
		const { results } = await env.DB.prepare(
			"SELECT id, username, role, created_at FROM users WHERE account_id = ? ORDER BY created_at, id",
		)
			.bind(principal.accountId)
			.all();
		return json({ data: results });
	},
});

export const userRoutes: Route[] = [listUsers];
