import type { z } from "zod";
import type { GuardUsage, RateRule } from "../../durable-objects/token-guard";
import { tokenGuard } from "../guard/guard";
import { limitFor, RATE_LIMIT_GROUPS, RATE_LIMIT_WINDOW_MS, type RateLimitOverrides } from "../guard/rate-limit-groups";
import { unauthorized } from "../http/errors";
import { json } from "../http/responses";
import { nowIso } from "../lib/time";
import { type Route, route } from "../routing/route";
import { TokenLimits } from "./schemas";
import { bearerToken, hashToken } from "./tokens";

/** Login attempts are counted per client and username, before any token exists: not a token's group. */
const TOKEN_GROUPS = Object.keys(RATE_LIMIT_GROUPS).filter(
	(group) => group !== "auth-login",
) as (keyof typeof RATE_LIMIT_GROUPS)[];

/** The rules a token's guard counts under, with the account's raised limits. */
export const tokenRules = (overrides: RateLimitOverrides): RateRule[] =>
	TOKEN_GROUPS.map((group) => ({ group, limit: limitFor(group, overrides), windowMs: RATE_LIMIT_WINDOW_MS }));

/** The documented body, field by field, from what the guard read. */
export function presentLimits(usage: GuardUsage, maxConnections: number): z.infer<typeof TokenLimits> {
	return {
		groups: usage.groups.map(({ group, windowMs, state, retryAfterSeconds }) => ({
			group,
			limit: state.limit,
			remaining: state.remaining,
			reset_at: nowIso(Math.ceil(state.resetAtMs / 1000) * 1000),
			window_seconds: windowMs / 1000,
			retry_after_seconds: retryAfterSeconds ?? null,
		})),
		connections: { limit: maxConnections, in_flight: usage.inFlight },
	};
}

const limits = route({
	method: "GET",
	path: "/api/auth/limits",
	summary:
		"The calling token's rate-limit groups (limit, remaining, reset, as each group's X-RateLimit-* headers would say now) and its connections in flight, this request included. Reading them counts only this request, in the auth group: no other group's budget is used.",
	tags: ["auth"],
	responses: { 200: { description: "The token's limits and their state", schema: TokenLimits } },
	async handler({ env, principal, request }) {
		// The pipeline admitted this token already; the guard is named by the same hash.
		const secret = bearerToken(request);
		if (!secret) throw unauthorized();
		const usage = await tokenGuard(env, hashToken(secret)).usage(tokenRules(principal.rateLimits));
		return json(presentLimits(usage, principal.maxConnections));
	},
});

export const limitRoutes: Route[] = [limits];
