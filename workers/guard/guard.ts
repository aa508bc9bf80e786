import type { RateVerdict } from "../../durable-objects/token-guard";
import type { Principal } from "../auth/principal";
import { bearerToken, hashToken } from "../auth/tokens";
import { ApiError, unauthorized } from "../http/errors";
import { limitFor, RATE_LIMIT_WINDOW_MS, type RateLimitGroup, type RateLimitOverrides } from "./rate-limit-groups";
import { rateLimitHeaders } from "./rate-limit-headers";

/** How long a slot stays taken if the request holding it dies without releasing it. */
export const LEASE_MS = 120_000;

export interface Admission {
	leaseId: string;
	headers: Record<string, string>;
	release: () => Promise<void>;
	renew: () => Promise<boolean>;
}

export const tokenGuard = (env: Env, tokenHash: string) => env.TOKEN_GUARD.get(env.TOKEN_GUARD.idFromName(`token:${tokenHash}`));

/**
 * Authenticates the bearer token and admits the request in one Durable Object round trip:
 * token, then connection cap, then the sliding window.
 */
export async function admit(
	request: Request,
	env: Env,
	group: RateLimitGroup,
): Promise<{ principal: Principal; admission: Admission }> {
	const secret = bearerToken(request);
	if (!secret) throw unauthorized();
	const tokenHash = await hashToken(secret);
	const guard = tokenGuard(env, tokenHash);
	const result = await guard.admit({ tokenHash, group, windowMs: RATE_LIMIT_WINDOW_MS, leaseMs: LEASE_MS });
	if (!result.admitted && result.reason === "unauthenticated") throw unauthorized();
	const headers = rateLimitHeaders(result.rate, result.principal.maxConnections);
	if (!result.admitted) {
		if (result.reason === "connections") {
			throw new ApiError(429, "Too many concurrent connections.", undefined, { ...headers, "Retry-After": "1" });
		}
		throw tooManyRequests(result.rate, headers);
	}
	const { leaseId, principal } = result;
	return {
		principal,
		admission: {
			leaseId,
			headers,
			release: () => guard.release(leaseId),
			renew: () => guard.renew(leaseId, LEASE_MS),
		},
	};
}

/** Login attempts have no token yet: they are counted per client IP and username. */
export async function admitLoginAttempt(env: Env, ip: string, username: string, overrides: RateLimitOverrides = {}) {
	const guard = env.TOKEN_GUARD.get(env.TOKEN_GUARD.idFromName(`login:${ip}:${username.toLowerCase()}`));
	const result = await guard.hit({
		group: "auth-login",
		limit: limitFor("auth-login", overrides),
		windowMs: RATE_LIMIT_WINDOW_MS,
	});
	const headers = rateLimitHeaders(result.rate);
	if (!result.admitted) throw tooManyRequests(result.rate, headers);
	return headers;
}

/** Makes the token's guard reload its principal on next use (revocation, account changes). */
export async function forgetTokens(env: Env, tokenHashes: readonly string[]): Promise<void> {
	await Promise.all(tokenHashes.map((hash) => tokenGuard(env, hash).forget()));
}

function tooManyRequests(rate: RateVerdict, headers: Record<string, string>): ApiError {
	const seconds = rate.retryAfterSeconds ?? 1;
	return new ApiError(429, `Too many requests. Retry after ${seconds} seconds.`, undefined, {
		...headers,
		"X-RateLimit-Remaining": "0",
		"Retry-After": String(seconds),
	});
}
