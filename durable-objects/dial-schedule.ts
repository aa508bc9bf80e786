import { providerBackoffMs } from "../workers/dialer/dial-result";
import { DAY, MINUTE, SECOND } from "../workers/lib/time";

/**
 * An agent clicked and waits with a headset on: a call that rings minutes later is worse than
 * a clear failure, so a click-to-call is placed within this long of its creation or fails.
 */
export const DIAL_WINDOW_MS = 60 * SECOND;
/** Alarms fire a little late; a first dial that late is still worth placing. */
export const LATE_TOLERANCE_MS = 5 * SECOND;
/** Settled dials are remembered this long so that a hand-over repeated by a keyed retry or the cron changes nothing. */
export const KEEP_SETTLED_MS = DAY;
/** D1 writes are retried sooner than provider dials, and never wait longer than this. */
export const MAX_D1_RETRY_MS = MINUTE;

/** What to do after a transient refusal: try again at `at`, or give up with a reason. */
export type AfterRefusal = { kind: "retry"; at: number; failures: number } | { kind: "fail"; reason: string };

/**
 * The deadline of a call handed over `ageMs` after its creation, in the receiver's clock: the
 * sender measures the age in its own clock, so the two clocks are never compared.
 */
export const dialDeadline = (now: number, ageMs: number) => now + DIAL_WINDOW_MS - Math.max(0, ageMs);

/** The first dial comes so late (a hand-over that only the cron made, a long outage of this object) that it must not ring. */
export const tooLateToDial = (now: number, deadlineAt: number) => now > deadlineAt + LATE_TOLERANCE_MS;

export function lateReason(failures: number, lastError: string | null): string {
	const seconds = DIAL_WINDOW_MS / SECOND;
	return failures === 0
		? `Not handed to the provider within ${seconds} s of the request.`
		: `The provider did not accept the call within ${seconds} s of the request (last: ${lastError ?? "no answer"}).`;
}

/**
 * After the `failures`-th transient refusal in a row: back off (Retry-After honoured) while the
 * window lasts. When the backoff would overshoot the window, one last try at its end still
 * fits, unless the provider asked us to wait past it.
 */
export function afterRefusal(
	failures: number,
	deadlineAt: number,
	now: number,
	refusal: { reason: string; retryAfterMs?: number },
	random: number,
): AfterRefusal {
	const count = failures + 1;
	const fail = { kind: "fail", reason: lateReason(count, refusal.reason) } as const;
	if (now >= deadlineAt) return fail;
	const at = now + providerBackoffMs(count, random, refusal.retryAfterMs);
	if (at <= deadlineAt) return { kind: "retry", at, failures: count };
	if (now + (refusal.retryAfterMs ?? 0) <= deadlineAt) return { kind: "retry", at: deadlineAt, failures: count };
	return fail;
}

/** When to retry a D1 step after its `failures`-th failure in a row. */
export const d1RetryAt = (failures: number, now: number, random: number) =>
	now + Math.min(MAX_D1_RETRY_MS, providerBackoffMs(failures, random));
