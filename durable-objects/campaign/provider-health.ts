import { providerBackoffMs } from "../../workers/dialer/dial-result";

/**
 * What a campaign knows of its dialer provider. After a transient refusal nothing is dialled
 * until `nextTryAt`; then a single probe goes out, and only an accepted dial reopens every slot,
 * so an outage costs one request per backoff step instead of one per free slot.
 */
export interface ProviderHealth {
	state: "available" | "unavailable";
	/** When the outage began. */
	since: number | null;
	nextTryAt: number | null;
	lastError: string | null;
	/** Transient refusals in a row. */
	failures: number;
}

export const AVAILABLE: ProviderHealth = { state: "available", since: null, nextTryAt: null, lastError: null, failures: 0 };

/** A dial was refused for a transient reason: back off (Retry-After honoured); `began` when this opens an outage. */
export function afterRefusal(
	health: ProviderHealth,
	now: number,
	reason: string,
	random: number,
	retryAfterMs?: number,
): { health: ProviderHealth; began: boolean } {
	const failures = health.failures + 1;
	return {
		health: {
			state: "unavailable",
			since: health.since ?? now,
			nextTryAt: now + providerBackoffMs(failures, random, retryAfterMs),
			lastError: reason,
			failures,
		},
		began: health.state === "available",
	};
}

/** A dial was accepted: the provider is back; `recovered` when this ends an outage. */
export function afterAcceptance(health: ProviderHealth): { health: ProviderHealth; recovered: boolean } {
	return { health: AVAILABLE, recovered: health.state === "unavailable" };
}

/**
 * How many of `budget` calls may be dialled now: all while the provider is available; during
 * an outage none until it is time to try again, then one probe at a time (`unanswered` counts
 * dials whose answer is still out).
 */
export function dialBudget(health: ProviderHealth, now: number, budget: number, unanswered: number): number {
	if (health.state === "available") return budget;
	if (health.nextTryAt !== null && now < health.nextTryAt) return 0;
	return Math.max(0, Math.min(budget, 1 - unanswered));
}

/** The public view, as `live.provider`. */
export function presentHealth(health: ProviderHealth) {
	const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());
	return { state: health.state, since: iso(health.since), next_try_at: iso(health.nextTryAt), last_error: health.lastError };
}
