/**
 * The exact sliding-window rule: a request at `now` is admitted when fewer than `limit`
 * requests were admitted in the `windowMs` before it. A hit at time `a` counts while
 * `now - a < windowMs`, so it frees its unit of capacity at exactly `a + windowMs`.
 * These functions work on a summary of the live hits (count, newest) so that a window of
 * thousands of hits costs the same as one of ten.
 */
export interface WindowState {
	limit: number;
	/** Requests still admissible right now. */
	remaining: number;
	/** Epoch ms at which remaining is back to `limit` (every counted hit has aged out). */
	resetAtMs: number;
}

/** Oldest time a hit may carry and still count at `now`. */
export const windowStart = (now: number, windowMs: number) => now - windowMs + 1;

export function windowState(
	count: number,
	newest: number | undefined,
	now: number,
	limit: number,
	windowMs: number,
): WindowState {
	return {
		limit,
		remaining: Math.max(0, limit - count),
		resetAtMs: newest === undefined ? now : newest + windowMs,
	};
}

/**
 * In a full window of `count` hits, the one at this 0-based position (oldest first) is the
 * hit whose expiry brings the count below `limit` again.
 */
export const blockingHitIndex = (count: number, limit: number) => count - limit;

/** Whole seconds until the blocking hit ages out: never 0, never early. */
export function retryAfterSeconds(blockingHitAt: number, now: number, windowMs: number): number {
	return Math.max(1, Math.ceil((blockingHitAt + windowMs - now) / 1000));
}
