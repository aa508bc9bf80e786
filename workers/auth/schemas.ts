import { z } from "zod";

export const LoginBody = z.strictObject({
	username: z.string().min(1).max(100),
	password: z.string().min(1).max(200),
});

export const TokenResponse = z.object({
	token: z.string(),
	token_type: z.literal("Bearer"),
	expires_at: z.iso.datetime().nullable(),
});

export const MeResponse = z.object({
	user: z.object({ id: z.uuid(), username: z.string(), role: z.enum(["platform_admin", "owner", "member"]) }),
	account: z.object({
		id: z.uuid(),
		default_region: z.string(),
		rate_limits: z.record(z.string(), z.number()),
		max_connections: z.number(),
	}),
	token: z.object({ id: z.uuid(), kind: z.enum(["session", "api"]) }),
});

export const CreateApiTokenBody = z.strictObject({
	name: z.string().trim().min(1).max(100),
	expires_in_days: z.int().min(1).max(3650).optional(),
});

export const ApiToken = z.object({
	id: z.uuid(),
	name: z.string(),
	created_at: z.iso.datetime(),
	expires_at: z.iso.datetime().nullable(),
	revoked_at: z.iso.datetime().nullable(),
});

export const CreatedApiToken = ApiToken.extend({
	token: z.string().describe("The secret; shown only in this response."),
});
