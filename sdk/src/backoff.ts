/**
 * The seed's backoff: `min(1 s · 2^attempt, 30 s)` plus up to 1 s of jitter, so that many
 * clients failing at once do not come back at once.
 */
export interface Backoff {
	baseMs: number;
	capMs: number;
	jitterMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 1_000, capMs: 30_000, jitterMs: 1_000 };

/** The wait before retry number `attempt + 1` (attempt 0 is the first request). */
export function backoffDelay(attempt: number, random: () => number = Math.random, backoff: Backoff = DEFAULT_BACKOFF): number {
	const exponential = Math.min(backoff.baseMs * 2 ** Math.max(0, attempt), backoff.capMs);
	return exponential + random() * backoff.jitterMs;
}

/**
 * `Retry-After` in milliseconds: delay-seconds or an HTTP date (RFC 9110); undefined when
 * absent or unreadable. A date in the past is 0.
 */
export function retryAfterMs(value: string | null | undefined, now: number): number | undefined {
	if (value === null || value === undefined) return undefined;
	const text = value.trim();
	if (/^\d+$/.test(text)) return Number(text) * 1000;
	const at = Date.parse(text);
	return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The longest delay setTimeout takes (2^31-1 ms, about 24.8 days): beyond it Node and browsers
 * fire at once, which turns a long wait into a loop of instant timers.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A delay setTimeout honours: at least 0, at most MAX_TIMER_MS. */
export const timerDelay = (ms: number) => Math.min(MAX_TIMER_MS, Math.max(0, ms));
