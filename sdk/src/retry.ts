import { type Backoff, backoffDelay, DEFAULT_BACKOFF } from "./backoff.js";

/** What one attempt came to: an HTTP status (with its Retry-After, if any) or no answer at all. */
export type AttemptOutcome = { status: number; retryAfterMs?: number } | { networkError: true };

export interface RetryPolicy {
	/** Attempts in all, the first included. */
	maxAttempts: number;
	backoff: Backoff;
	/**
	 * The longest Retry-After the client waits out. A server asking for more (a day, a month)
	 * is not something one call can sit through: the answer goes to the caller instead.
	 */
	maxRetryAfterMs: number;
}

/** The default ceiling on a Retry-After the client waits out: 5 minutes, five rate-limit windows. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 5 * 60_000;

export const DEFAULT_RETRY: RetryPolicy = {
	maxAttempts: 5,
	backoff: DEFAULT_BACKOFF,
	maxRetryAfterMs: DEFAULT_MAX_RETRY_AFTER_MS,
};

export interface AttemptContext {
	/** 0 for the first attempt. */
	attempt: number;
	/**
	 * Whether doing the request twice has the effect of doing it once: GET, PUT, DELETE, a
	 * write that carries an Idempotency-Key on a route that honours it, or one the caller vouches for.
	 */
	repeatable: boolean;
}

export type RetryReason = "rate-limited" | "in-flight" | "server-error" | "network-error";
export type RetryDecision = { retry: false } | { retry: true; delayMs: number; reason: RetryReason };

/**
 * Whether and when to try again:
 * - 429 (rate limit or connection cap) was refused before anything ran: always retried,
 *   after its Retry-After;
 * - 409 with Retry-After is a keyed request whose first copy is still running: retried after it;
 * - 5xx and no answer at all are retried with backoff and jitter, only when repeatable, since a
 *   write without a key may have been applied; a 5xx's Retry-After, if any, is a floor;
 * - a Retry-After beyond `maxRetryAfterMs` is not waited out: the answer is the caller's;
 * - any other status is the answer.
 */
export function retryDecision(
	outcome: AttemptOutcome,
	context: AttemptContext,
	policy: RetryPolicy = DEFAULT_RETRY,
	random: () => number = Math.random,
): RetryDecision {
	if (context.attempt + 1 >= policy.maxAttempts) return { retry: false };
	const backoff = () => backoffDelay(context.attempt, random, policy.backoff);
	if ("networkError" in outcome) {
		return context.repeatable ? { retry: true, delayMs: backoff(), reason: "network-error" } : { retry: false };
	}
	const { status, retryAfterMs } = outcome;
	if (retryAfterMs !== undefined && retryAfterMs > policy.maxRetryAfterMs) return { retry: false };
	if (status === 429) return { retry: true, delayMs: retryAfterMs ?? backoff(), reason: "rate-limited" };
	if (status === 409 && retryAfterMs !== undefined) return { retry: true, delayMs: retryAfterMs, reason: "in-flight" };
	if (status >= 500 && context.repeatable) {
		return { retry: true, delayMs: Math.max(backoff(), retryAfterMs ?? 0), reason: "server-error" };
	}
	return { retry: false };
}
