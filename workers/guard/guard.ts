import type { AdmitResult, RateVerdict } from "../../durable-objects/token-guard";
import { ApiError } from "../http/errors";
import { limitFor, RATE_LIMIT_WINDOW_MS, type RateLimitGroup, type RateLimitOverrides } from "./rate-limit-groups";
import { rateLimitHeaders } from "./rate-limit-headers";

/** How long a slot stays taken if the request holding it dies without releasing it. */
export const LEASE_MS = 120_000;

export interface GuardSubject {
	tokenId: string;
	group: RateLimitGroup;
	rateLimits: RateLimitOverrides;
	maxConnections: number;
}

export interface Admission {
	leaseId: string;
	headers: Record<string, string>;
	release: () => Promise<void>;
	renew: () => Promise<boolean>;
}

const guardOf = (env: Env, name: string) => env.TOKEN_GUARD.get(env.TOKEN_GUARD.idFromName(name));

/** One Durable Object round trip: connection cap first, then the sliding window. */
export async function admit(env: Env, subject: GuardSubject): Promise<Admission> {
	const guard = guardOf(env, `token:${subject.tokenId}`);
	const result: AdmitResult = await guard.admit({
		group: subject.group,
		limit: limitFor(subject.group, subject.rateLimits),
		windowMs: RATE_LIMIT_WINDOW_MS,
		maxConnections: subject.maxConnections,
		leaseMs: LEASE_MS,
	});
	const headers = rateLimitHeaders(result.rate, Date.now());
	if (!result.admitted) {
		if (result.reason === "connections") {
			throw new ApiError(429, "Too many concurrent connections.", undefined, { ...headers, "Retry-After": "1" });
		}
		throw tooManyRequests(result.rate, headers);
	}
	const { leaseId } = result;
	return {
		leaseId,
		headers,
		release: () => guard.release(leaseId),
		renew: () => guard.renew(leaseId, LEASE_MS),
	};
}

/** Login attempts have no token yet: they are counted per client IP and username. */
export async function admitLoginAttempt(env: Env, ip: string, username: string, overrides: RateLimitOverrides = {}) {
	const guard = guardOf(env, `login:${ip}:${username.toLowerCase()}`);
	const result = await guard.hit({
		group: "auth-login",
		limit: limitFor("auth-login", overrides),
		windowMs: RATE_LIMIT_WINDOW_MS,
	});
	const headers = rateLimitHeaders(result.rate, Date.now());
	if (!result.admitted) throw tooManyRequests(result.rate, headers);
	return headers;
}

function tooManyRequests(rate: RateVerdict, headers: Record<string, string>): ApiError {
	const seconds = rate.retryAfterSeconds ?? 1;
	return new ApiError(429, `Too many requests. Retry after ${seconds} seconds.`, undefined, {
		...headers,
		"X-RateLimit-Remaining": "0",
		"Retry-After": String(seconds),
	});
}
