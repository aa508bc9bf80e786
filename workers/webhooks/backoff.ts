/**
 * Retry schedule for a failing webhook: exponential, then every 12 h, about three days in
 * all (15 attempts). Queues delay a message at most 12 h, so longer waits are chained hops.
 */
export const BACKOFF_SECONDS = [5, 30, 120, 600, 1_800, 3_600, 7_200, 14_400, 28_800, 43_200, 43_200, 43_200, 43_200, 43_200];
export const MAX_ATTEMPTS = BACKOFF_SECONDS.length + 1;
export const MAX_QUEUE_DELAY_SECONDS = 43_200;

/**
 * Seconds until the next attempt after `attempts` failed ones, with ±20 % jitter so that a
 * recovering receiver is not hit by every sender at once; never sooner than the receiver's
 * Retry-After. Null when the schedule is used up.
 */
export function nextDelaySeconds(attempts: number, random: number, retryAfterSeconds?: number): number | null {
	const base = BACKOFF_SECONDS[attempts - 1];
	if (base === undefined) return null;
	const jittered = Math.round(base * (0.8 + 0.4 * random));
	return Math.max(1, jittered, retryAfterSeconds ?? 0);
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null, now: number): number | undefined {
	if (!header) return undefined;
	if (/^\d+$/.test(header.trim())) return Number(header.trim());
	const at = Date.parse(header);
	return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

export const totalScheduleSeconds = () => BACKOFF_SECONDS.reduce((sum, seconds) => sum + seconds, 0);
