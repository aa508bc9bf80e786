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

/**
 * One group's live hits in memory, oldest first: a copy of its rows in storage, so that an
 * admit reads its window without a query. Times come from the guard's clock and may arrive
 * out of order (a clock set back in tests), so each is inserted where it sorts. Hits that
 * aged out are skipped by a moving head and the array compacted now and then, so dropping
 * them costs nothing per request.
 */
export class HitTimes {
	private times: number[];
	private head = 0;

	/** `sorted` ascending, as the table's `(grp, at)` index gives them. */
	constructor(sorted: readonly number[] = []) {
		this.times = [...sorted];
	}

	get count(): number {
		return this.times.length - this.head;
	}

	get newest(): number | undefined {
		return this.count === 0 ? undefined : this.times[this.times.length - 1];
	}

	/** The hit at this 0-based position among the live ones, oldest first. */
	at(index: number): number | undefined {
		return this.times[this.head + index];
	}

	/** Forgets every hit older than `start`; returns how many aged out. */
	dropOlderThan(start: number): number {
		const before = this.head;
		while (this.head < this.times.length && (this.times[this.head] as number) < start) this.head++;
		if (this.head > 1024 && this.head * 2 > this.times.length) {
			this.times = this.times.slice(this.head);
			this.head = 0;
		}
		return this.head - before;
	}

	add(at: number): void {
		let index = this.times.length;
		while (index > this.head && (this.times[index - 1] as number) > at) index--;
		this.times.splice(index, 0, at);
	}

	/** Forgets one hit at `at` (a refund); false when none is held. */
	remove(at: number): boolean {
		const index = this.times.indexOf(at, this.head);
		if (index < 0) return false;
		this.times.splice(index, 1);
		return true;
	}
}
