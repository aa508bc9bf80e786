/** Call outcomes a dialer reports, and what each means for the contact. */
export const FINAL_OUTCOMES = ["completed", "no_answer", "busy", "failed", "timeout", "cancelled", "voicemail"] as const;
export type CallOutcome = (typeof FINAL_OUTCOMES)[number];

export interface RetryPolicy {
	enabled: boolean;
	/** Retries after the first attempt (0–3). */
	maxAttempts: number;
	delayMs: number;
}

/** Only no-answer and busy are retried, and only while the policy allows another attempt. */
export function shouldRetry(outcome: CallOutcome, attemptsMade: number, policy: RetryPolicy): boolean {
	return policy.enabled && (outcome === "no_answer" || outcome === "busy") && attemptsMade <= policy.maxAttempts;
}

/** How many calls may start now: bounded by free slots and by what is left of today's cap. */
export function startBudget(maxConcurrent: number, inFlight: number, maxPerDay: number | null, startedToday: number): number {
	const slots = Math.max(0, maxConcurrent - inFlight);
	const today = maxPerDay === null ? Number.POSITIVE_INFINITY : Math.max(0, maxPerDay - startedToday);
	return Math.min(slots, today);
}

/**
 * The simulated dialer's outcome for a number, by its last digit, so that runs are
 * reproducible: 0–6 answered (completed), 7 no answer, 8 busy, 9 failed.
 */
export function simulatedOutcome(phone: string): Exclude<CallOutcome, "timeout" | "cancelled"> {
	const digit = Number(phone.at(-1));
	if (digit === 7) return "no_answer";
	if (digit === 8) return "busy";
	if (digit === 9) return "failed";
	return "completed";
}
