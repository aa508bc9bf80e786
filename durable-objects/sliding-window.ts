/**
 * The exact sliding-window rule: a request at `now` is admitted when fewer than `limit`
 * requests were admitted in the `windowMs` before it. A hit at time `a` counts while
 * `now - a < windowMs`, so it frees its unit of capacity at exactly `a + windowMs`.
 */
export interface WindowState {
	limit: number;
	/** Requests still admissible right now. */
	remaining: number;
	/** Epoch ms at which remaining is back to `limit` (every counted hit has aged out). */
	resetAtMs: number;
	/** Epoch ms at which one more request would be admitted; `now` when one would be now. */
	nextAdmitAtMs: number;
}

export function liveHits(hits: readonly number[], now: number, windowMs: number): number[] {
	return hits.filter((at) => now - at < windowMs);
}

/** State of a window holding `hits` (ascending, all still live at `now`). */
export function windowState(hits: readonly number[], now: number, limit: number, windowMs: number): WindowState {
	const count = hits.length;
	const newest = hits[count - 1];
	// The hit whose expiry brings the count below the limit again.
	const blocking = count >= limit ? hits[count - limit] : undefined;
	return {
		limit,
		remaining: Math.max(0, limit - count),
		resetAtMs: newest === undefined ? now : newest + windowMs,
		nextAdmitAtMs: blocking === undefined ? now : blocking + windowMs,
	};
}

/** Whole seconds to wait so that a retry is admitted: never 0, never early. */
export function retryAfterSeconds(state: WindowState, now: number): number {
	return Math.max(1, Math.ceil((state.nextAdmitAtMs - now) / 1000));
}
