import { timerDelay } from "./backoff.js";
import { admittedBy, DEFAULT_PACING, type PacingOptions, RateBudget, readConnectionCap, readRateHeaders } from "./pacing.js";

/** The server's default cap on requests in flight per token. */
export const DEFAULT_MAX_CONNECTIONS = 20;

export interface GateOptions {
	/** At most this many requests in flight; the server's advertised cap lowers it, never raises it past this. */
	maxConnections?: number;
	pacing?: PacingOptions;
	now?: () => number;
	/**
	 * The longest a 429's Retry-After holds back its group (or every request, for the connection
	 * cap): the client's ceiling on Retry-After, past which calls get the 429 instead of waiting.
	 */
	maxBlockMs?: number;
}

export interface AnswerInfo {
	status: number;
	headers: Headers;
	/** A 429 for the connection cap rather than the rate limit. */
	connectionRefused?: boolean;
	retryAfterMs?: number;
}

/** A granted turn: one connection slot and one unit of a group's budget. */
export interface Ticket {
	/** The answer's status and headers (or none, when no answer came): books the unit. Once. */
	answered(answer: AnswerInfo | undefined): void;
	/** Frees the connection slot: once the answer's body is read, or the stream is over. Once. */
	release(): void;
}

interface Waiter {
	route: string;
	signal: AbortSignal | undefined;
	grant: (ticket: Ticket) => void;
	fail: (reason: unknown) => void;
	onAbort?: () => void;
}

/**
 * Where every request of one client (one token) waits for its turn: at most the connection
 * cap in flight, and each rate-limit group paced by its RateBudget. A route's group is learned
 * from its first answer (the `RateLimit` header names it); until then one request of the route
 * goes alone, as a probe. Waiters go in order, except that one whose group has no budget left
 * does not hold up another group's.
 */
export class Gate {
	private readonly budgets = new Map<string, RateBudget>();
	private readonly groupOfRoute = new Map<string, string>();
	private readonly waiters: Waiter[] = [];
	private readonly now: () => number;
	private readonly pacing: PacingOptions;
	private readonly configuredCap: number | undefined;
	private readonly maxBlockMs: number;
	private cap: number;
	private inFlight = 0;
	private connectionsBlockedUntil = 0;
	private timer: ReturnType<typeof setTimeout> | undefined;
	private timerAt = Number.POSITIVE_INFINITY;

	constructor(options: GateOptions = {}) {
		this.now = options.now ?? Date.now;
		this.pacing = options.pacing ?? DEFAULT_PACING;
		this.configuredCap = options.maxConnections;
		this.maxBlockMs = options.maxBlockMs ?? Number.POSITIVE_INFINITY;
		this.cap = Math.min(options.maxConnections ?? DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS);
	}

	/** Requests (and streams) in flight now. */
	get active(): number {
		return this.inFlight;
	}

	/** The connection cap in use. */
	get connectionCap(): number {
		return this.cap;
	}

	/** Waits for a turn for a request of `route` ("GET /api/pbx/users"). */
	acquire(route: string, signal?: AbortSignal): Promise<Ticket> {
		return new Promise<Ticket>((grant, fail) => {
			if (signal?.aborted) return fail(signal.reason);
			const waiter: Waiter = { route, signal, grant, fail };
			if (signal) {
				waiter.onAbort = () => {
					const at = this.waiters.indexOf(waiter);
					if (at >= 0) this.waiters.splice(at, 1);
					fail(signal.reason);
					// Its wake-up may be the only one pending: a timer for nobody would hold the process open.
					this.pump();
				};
				signal.addEventListener("abort", waiter.onAbort, { once: true });
			}
			this.waiters.push(waiter);
			this.pump();
		});
	}

	private budgetKey(route: string): string {
		const group = this.groupOfRoute.get(route);
		return group === undefined ? `?${route}` : group;
	}

	private budget(key: string): RateBudget {
		let budget = this.budgets.get(key);
		if (!budget) {
			budget = new RateBudget(this.pacing);
			this.budgets.set(key, budget);
		}
		return budget;
	}

	private pump(): void {
		const now = this.now();
		let wakeAt = Number.POSITIVE_INFINITY;
		const exhausted = new Set<string>();
		for (let i = 0; i < this.waiters.length; ) {
			if (this.inFlight >= this.cap) break;
			if (now < this.connectionsBlockedUntil) {
				wakeAt = this.connectionsBlockedUntil;
				break;
			}
			const waiter = this.waiters[i] as Waiter;
			const key = this.budgetKey(waiter.route);
			if (exhausted.has(key)) {
				i++;
				continue;
			}
			const budget = this.budget(key);
			const delay = budget.delay(now);
			if (delay > 0) {
				exhausted.add(key);
				wakeAt = Math.min(wakeAt, now + delay);
				i++;
				continue;
			}
			this.waiters.splice(i, 1);
			if (waiter.onAbort) waiter.signal?.removeEventListener("abort", waiter.onAbort);
			budget.sent(now);
			this.inFlight++;
			waiter.grant(this.ticket(waiter.route, key));
		}
		this.wakeAt(wakeAt);
	}

	private wakeAt(at: number): void {
		if (at === this.timerAt) return;
		if (this.timer !== undefined) clearTimeout(this.timer);
		this.timer = undefined;
		this.timerAt = at;
		if (!Number.isFinite(at)) return;
		this.timer = setTimeout(
			() => {
				this.timer = undefined;
				this.timerAt = Number.POSITIVE_INFINITY;
				this.pump();
			},
			// A far wake-up (a long block) is checked again after the timer's longest delay.
			timerDelay(Math.max(1, at - this.now())),
		);
	}

	private ticket(route: string, key: string): Ticket {
		let answered = false;
		let released = false;
		return {
			answered: (answer) => {
				if (answered) return;
				answered = true;
				this.book(route, key, answer);
				this.pump();
			},
			release: () => {
				if (released) return;
				released = true;
				if (!answered) {
					answered = true;
					this.book(route, key, undefined);
				}
				this.inFlight--;
				this.pump();
			},
		};
	}

	private book(route: string, key: string, answer: AnswerInfo | undefined): void {
		const now = this.now();
		const rate = answer ? readRateHeaders(answer.headers, now) : undefined;
		const advertised = answer ? readConnectionCap(answer.headers) : undefined;
		if (advertised !== undefined) this.cap = Math.min(this.configuredCap ?? advertised, advertised);
		const refused = answer?.status === 429;
		const retryAfterMs = answer?.retryAfterMs === undefined ? undefined : Math.min(answer.retryAfterMs, this.maxBlockMs);
		if (answer?.connectionRefused) this.connectionsBlockedUntil = now + (retryAfterMs ?? 1000);
		const booking = {
			// A refusal costs nothing; no answer at all may have been counted.
			admitted: !refused,
			observation: rate?.observation,
			admittedBy: answer ? admittedBy(answer.headers, now, this.pacing.windowMs) : now,
			// The connection cap's refusal says nothing about the group's budget.
			retryAfterMs: answer?.connectionRefused ? 0 : retryAfterMs,
		};
		const used = this.budget(key);
		if (rate && rate.group !== key) {
			// The route's first answer: from now on its requests spend the group's budget.
			this.groupOfRoute.set(route, rate.group);
			used.answered(now, { admitted: false, retryAfterMs: 0 });
			this.budget(rate.group).adopt(now, booking);
		} else used.answered(now, booking);
	}
}
