import type { RateReading } from "./rate-headers";

/** Requests of a group kept back for what the operator does (pause, cancel) when its window runs low. */
export const RESERVED = 10;
/** The server's window (sliding, exact), plus a margin: a unit is counted from when it arrives, after we send it. */
export const WINDOW_MS = 61_000;
/** The autocall group's default limit, until a response says the token's own. */
export const DEFAULT_LIMIT = 120;
/** Background reads of one group in flight at once: a page of rows queues instead of firing together. */
export const MAX_BACKGROUND_IN_FLIGHT = 3;

/** A background read is one nobody asked for (a refresh); an operator's request is an action (pause, cancel, an edit). */
export type Need = "background" | "operator";

/**
 * One rate-limit group as this tab spends it: a unit is taken just before each request is sent
 * (so requests in flight count before their answers arrive), and the server's answers add what
 * others spent with the same token. Background reads may go while more than the reserve is left
 * and fewer than `maxInFlight` of them are out; the operator's requests always go (the server is
 * the judge), and the reserve is what keeps them from meeting a 429.
 */
export class GroupBudget {
	private sends: number[] = [];
	private limit = DEFAULT_LIMIT;
	private foreign = 0;
	private foreignUntil = 0;
	private backgroundInFlight = 0;

	constructor(
		private readonly reserveAtMost = RESERVED,
		readonly maxInFlight = MAX_BACKGROUND_IN_FLIGHT,
	) {}

	/** The reserve: RESERVED, or a quarter of a smaller limit, so that background reads are never shut out for good. */
	get reserve(): number {
		return Math.min(this.reserveAtMost, Math.floor(this.limit / 4));
	}

	/** Units this tab believes are left in the group's window at `now`. */
	remaining(now: number): number {
		this.prune(now);
		return this.limit - this.sends.length - (now < this.foreignUntil ? this.foreign : 0);
	}

	/** 0 when `need` may be sent now; otherwise how long to wait before asking again (Infinity: until a read in flight ends). */
	waitFor(need: Need, now: number): number {
		if (need === "operator") return 0;
		if (this.backgroundInFlight >= this.maxInFlight) return Number.POSITIVE_INFINITY;
		if (this.remaining(now) > this.reserve) return 0;
		const ownFrees = this.sends[0] === undefined ? Number.POSITIVE_INFINITY : this.sends[0] + WINDOW_MS - now;
		const foreignFrees = now < this.foreignUntil && this.foreign > 0 ? this.foreignUntil - now : Number.POSITIVE_INFINITY;
		const wait = Math.min(ownFrees, foreignFrees);
		// Nothing of ours or theirs to age out: the limit itself is under the reserve; ask again in a while.
		return Number.isFinite(wait) ? Math.max(1, wait) : WINDOW_MS;
	}

	/** Records a unit spent at `now`, just before sending. */
	take(need: Need, now: number): void {
		this.prune(now);
		this.sends.push(now);
		if (need === "background") this.backgroundInFlight++;
	}

	/** A request taken with `take` has its answer (or failed). */
	done(need: Need): void {
		if (need === "background") this.backgroundInFlight = Math.max(0, this.backgroundInFlight - 1);
	}

	/**
	 * An answer's headers for this group, to a request sent at `sentAt`: the token's limit, and
	 * what the server counted beyond this tab's own sends (another tab or client on the token),
	 * which is held against the budget until the server says the window is full again.
	 */
	observe(reading: Pick<RateReading, "limit" | "remaining" | "resetAt">, sentAt: number, now: number): void {
		this.prune(now);
		this.limit = reading.limit;
		const own = this.sends.filter((at) => at <= sentAt).length;
		const others = reading.limit - reading.remaining - own;
		if (others > 0) {
			this.foreign = others;
			this.foreignUntil = Math.min(reading.resetAt, now + WINDOW_MS);
		} else {
			this.foreign = 0;
		}
	}

	/** Another token: nothing of the last one's window applies. */
	reset(): void {
		this.sends = [];
		this.limit = DEFAULT_LIMIT;
		this.foreign = 0;
		this.foreignUntil = 0;
		this.backgroundInFlight = 0;
	}

	private prune(now: number): void {
		while (this.sends[0] !== undefined && this.sends[0] <= now - WINDOW_MS) this.sends.shift();
	}
}

interface Waiter {
	resolve: (release: () => void) => void;
	reject: (reason: unknown) => void;
	signal: AbortSignal | undefined;
}

/**
 * The queue in front of a GroupBudget: background reads wait their turn, first come first
 * served, and each takes its unit only when it is let through; the operator's go at once.
 * `acquire` resolves with the function to call when the request has its answer.
 */
export class BudgetGate {
	private queue: Waiter[] = [];
	private timer: ReturnType<typeof setTimeout> | undefined;
	private generation = 0;

	constructor(
		readonly budget: GroupBudget,
		private readonly clock: () => number = Date.now,
	) {}

	acquire(need: Need, signal?: AbortSignal): Promise<() => void> {
		if (need === "operator") return Promise.resolve(this.grant("operator"));
		return new Promise((resolve, reject) => {
			if (signal?.aborted) return reject(signal.reason);
			const waiter: Waiter = { resolve, reject, signal };
			signal?.addEventListener("abort", () => this.drop(waiter), { once: true });
			this.queue.push(waiter);
			this.pump();
		});
	}

	/** Reads waiting now (for the tests and the Limits page's curiosity). */
	get waiting(): number {
		return this.queue.length;
	}

	/** A new token: a fresh window; what was waiting goes on under it. */
	reset(): void {
		this.generation++;
		this.budget.reset();
		this.pump();
	}

	private grant(need: Need): () => void {
		this.budget.take(need, this.clock());
		const generation = this.generation;
		let released = false;
		return () => {
			if (released) return;
			released = true;
			if (generation === this.generation) this.budget.done(need);
			this.pump();
		};
	}

	private drop(waiter: Waiter): void {
		const at = this.queue.indexOf(waiter);
		if (at < 0) return;
		this.queue.splice(at, 1);
		waiter.reject(waiter.signal?.reason);
	}

	private pump(): void {
		if (this.timer !== undefined) clearTimeout(this.timer);
		this.timer = undefined;
		for (;;) {
			const head = this.queue[0];
			if (!head) return;
			const wait = this.budget.waitFor("background", this.clock());
			if (wait > 0) {
				// Infinity: a read in flight ends first, and its release pumps again.
				if (Number.isFinite(wait)) this.timer = setTimeout(() => this.pump(), wait);
				return;
			}
			this.queue.shift();
			head.resolve(this.grant("background"));
		}
	}
}
