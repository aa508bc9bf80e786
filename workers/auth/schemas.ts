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

export const TokenLimits = z.object({
	groups: z
		.array(
			z.object({
				group: z.string().describe("The endpoint group, as named in RateLimit-Policy."),
				limit: z.int().describe("Requests per window (X-RateLimit-Limit)."),
				remaining: z.int().describe("Requests still admissible now (X-RateLimit-Remaining)."),
				reset_at: z.iso.datetime().describe("When remaining is back to limit (X-RateLimit-Reset, as a time)."),
				window_seconds: z.int(),
				retry_after_seconds: z
					.int()
					.nullable()
					.describe("While remaining is 0: the Retry-After a request of this group would get now; else null."),
			}),
		)
		.describe("Every group this token is counted in, whether used yet or not."),
	connections: z.object({
		limit: z.int().describe("Requests and streams this token may have in flight (max_connections)."),
		in_flight: z.int().describe("In flight now, this request and open event streams included."),
	}),
});
