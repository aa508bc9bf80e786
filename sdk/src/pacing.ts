/** What a response says about its group's budget (X-RateLimit-*), at the moment it arrived. */
export interface RateObservation {
	limit: number;
	remaining: number;
	/** When Remaining is back to Limit, on the client's clock. */
	resetAtMs: number;
}

export interface PacingOptions {
	/** The server's window (60 s). */
	windowMs: number;
	/** Below this many requests left, the rest is spread until the window frees (the seed's "Remaining < 5"). */
	reserve: number;
	/** Added to the window before a unit of ours counts as free: covers rounding at the edge. */
	marginMs: number;
}

/** What an answer tells a budget. */
export interface Answer {
	/** False for a 429: refused, it cost nothing. */
	admitted: boolean;
	observation?: RateObservation;
	retryAfterMs?: number;
	/** The latest moment (client clock) the request can have been admitted; its answer's arrival when unknown. */
	admittedBy?: number;
}

export const DEFAULT_PACING: PacingOptions = { windowMs: 60_000, reserve: 5, marginMs: 100 };

/**
 * One token's budget in one rate-limit group, as the client can know it: the units its own
 * admitted requests hold (each until a window after the latest moment it can have been
 * admitted — its answer, or earlier when the headers prove it — when the server's sliding
 * window has certainly let it go), those in flight, and units someone else spent with the
 * same token (what the server's Remaining shows beyond ours, held until its Reset). A request
 * may go while a unit is free, so a client alone on its token never meets a 429 and never
 * waits longer than the window makes it; when fewer than `reserve` are left, the rest are
 * spread evenly until the window frees instead of being sent at once.
 *
 * Pure bookkeeping: the caller passes the time.
 */
export class RateBudget {
	private limit: number | undefined;
	/** When each admitted unit of ours is free again, ascending. */
	private readonly own: number[] = [];
	private inFlight = 0;
	private foreign = { count: 0, untilMs: 0 };
	private blockedUntilMs = 0;
	private lastSentAtMs = Number.NEGATIVE_INFINITY;

	private readonly options: PacingOptions;

	constructor(options: PacingOptions = DEFAULT_PACING) {
		this.options = options;
	}

	/**
	 * How long to wait before sending: 0 to send now, Infinity to wait for an answer (the
	 * limit is not known yet, or every unit is held by a request in flight).
	 */
	delay(now: number): number {
		if (now < this.blockedUntilMs) return this.blockedUntilMs - now;
		if (this.limit === undefined) return this.inFlight > 0 ? Number.POSITIVE_INFINITY : 0;
		this.expire(now);
		const foreign = now < this.foreign.untilMs ? this.foreign.count : 0;
		const available = this.limit - this.own.length - this.inFlight - foreign;
		const nextFree = Math.min(this.own[0] ?? Number.POSITIVE_INFINITY, foreign ? this.foreign.untilMs : Number.POSITIVE_INFINITY);
		if (available <= 0) return nextFree - now;
		if (available >= this.options.reserve) return 0;
		// The last few: one every (time until all are free) / (how many are left).
		const allFree = Math.max(
			this.own.at(-1) ?? now,
			foreign ? this.foreign.untilMs : now,
			this.inFlight ? now + this.options.windowMs : now,
		);
		const spacing = (allFree - now) / available;
		const wait = Math.max(0, this.lastSentAtMs + spacing - now);
		// A unit freeing sooner ends the spreading: look again then.
		return Math.min(wait, nextFree - now);
	}

	/** A request of this group was sent. */
	sent(now: number): void {
		this.inFlight++;
		this.lastSentAtMs = now;
	}

	/**
	 * Its answer. `admitted` is false for a 429 (refused requests cost nothing), which blocks
	 * the group for its Retry-After; true also for no answer at all, since it may have counted.
	 */
	answered(now: number, answer: Answer): void {
		this.inFlight = Math.max(0, this.inFlight - 1);
		this.settle(now, answer);
	}

	/**
	 * An answer for a request this budget did not send: the group's first request, made before
	 * the client knew the group.
	 */
	adopt(now: number, answer: Answer): void {
		this.settle(now, answer);
	}

	/** The limit the server last stated, if any. */
	get knownLimit(): number | undefined {
		return this.limit;
	}

	private settle(now: number, { admitted, observation, retryAfterMs, admittedBy }: Answer) {
		if (admitted) this.hold(Math.min(now, admittedBy ?? now) + this.options.windowMs + this.options.marginMs);
		else this.blockedUntilMs = Math.max(this.blockedUntilMs, now + (retryAfterMs ?? this.options.windowMs));
		if (!observation) return;
		this.limit = observation.limit;
		this.expire(now);
		// Ours, as the server may have counted them: every unit we hold and every request in flight.
		const ours = this.own.length + this.inFlight;
		this.foreign = { count: Math.max(0, observation.limit - observation.remaining - ours), untilMs: observation.resetAtMs };
	}

	/** Keeps `own` ascending: answers can prove earlier admissions than answers before them. */
	private hold(until: number): void {
		let at = this.own.length;
		while (at > 0 && (this.own[at - 1] ?? 0) > until) at--;
		this.own.splice(at, 0, until);
	}

	private expire(now: number): void {
		let expired = 0;
		while (expired < this.own.length && (this.own[expired] ?? 0) <= now) expired++;
		if (expired) this.own.splice(0, expired);
	}
}

/**
 * The group and its budget from a response's headers: `RateLimit: "pbx";r=42;t=18` names the
 * group and says in how many seconds the window is whole again (relative, so no clock skew
 * between client and server matters); X-RateLimit-Limit and -Remaining give the numbers.
 * Undefined for a response without them (health, login).
 */
export function readRateHeaders(headers: Headers, now: number): { group: string; observation: RateObservation } | undefined {
	const field = headers.get("RateLimit") ?? "";
	const group = /^\s*"([^"]+)"/.exec(field)?.[1];
	const limit = Number(headers.get("X-RateLimit-Limit") ?? Number.NaN);
	const remaining = Number(headers.get("X-RateLimit-Remaining") ?? Number.NaN);
	if (!group || !Number.isFinite(limit) || !Number.isFinite(remaining)) return undefined;
	const seconds = Number(/;\s*t=(\d+)/.exec(field)?.[1] ?? Number.NaN);
	// Whole seconds, rounded up by the server: never earlier than the real moment.
	const resetAtMs = now + (Number.isFinite(seconds) ? seconds * 1000 : DEFAULT_PACING.windowMs);
	return { group, observation: { limit, remaining, resetAtMs } };
}

/**
 * The latest moment, on the client's clock, the server can have admitted the request whose
 * answer arrived at `receivedAt`. X-RateLimit-Reset is the admission plus the window, rounded
 * up to a second, and Date when the answer left, rounded down: both on the server's clock, so
 * their difference is a lower bound of how long the server held the request after admitting
 * it, whatever the skew between the clocks. A slow handler then does not make the client count
 * its unit for seconds longer than the server does. Without both headers: `receivedAt`.
 */
export function admittedBy(headers: Headers, receivedAt: number, windowMs: number = DEFAULT_PACING.windowMs): number {
	const reset = Number(headers.get("X-RateLimit-Reset") ?? Number.NaN);
	const sentAt = Date.parse(headers.get("Date") ?? "");
	if (!Number.isFinite(reset) || Number.isNaN(sentAt)) return receivedAt;
	return receivedAt - Math.max(0, sentAt - (reset * 1000 - windowMs));
}

/** The connection cap the server advertises: `"connections";q=20;qu="concurrent-requests"` in RateLimit-Policy. */
export function readConnectionCap(headers: Headers): number | undefined {
	const policy = headers.get("RateLimit-Policy") ?? "";
	const item = policy.split(",").find((part) => /qu="concurrent-requests"/.test(part));
	const quota = item ? /;\s*q=(\d+)/.exec(item)?.[1] : undefined;
	return quota === undefined ? undefined : Number(quota);
}
