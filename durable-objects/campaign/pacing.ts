/** Call outcomes a dialer reports, and what each means for the contact. */
export const FINAL_OUTCOMES = ["completed", "no_answer", "busy", "failed", "timeout", "cancelled", "voicemail"] as const;
export type CallOutcome = (typeof FINAL_OUTCOMES)[number];

/** Outcomes a retry policy may name: the customer was not reached, and may be on another try. */
export const RETRYABLE_OUTCOMES = ["no_answer", "busy", "voicemail"] as const;
export type RetryableOutcome = (typeof RETRYABLE_OUTCOMES)[number];
export const DEFAULT_RETRY_ON: readonly RetryableOutcome[] = ["no_answer", "busy"];

export interface RetryPolicy {
	enabled: boolean;
	/** Retries after the first attempt (0–3). */
	maxAttempts: number;
	delayMs: number;
	/** Which outcomes are retried (default no-answer and busy). */
	on: readonly RetryableOutcome[];
}

/** Only the outcomes the policy names are retried, and only while it allows another attempt. */
export function shouldRetry(outcome: CallOutcome, attemptsMade: number, policy: RetryPolicy): boolean {
	return policy.enabled && (policy.on as readonly string[]).includes(outcome) && attemptsMade <= policy.maxAttempts;
}

/** How many calls may start now: bounded by free slots and by what is left of today's cap. */
export function startBudget(maxConcurrent: number, inFlight: number, maxPerDay: number | null, startedToday: number): number {
	const slots = Math.max(0, maxConcurrent - inFlight);
	const today = maxPerDay === null ? Number.POSITIVE_INFINITY : Math.max(0, maxPerDay - startedToday);
	return Math.min(slots, today);
}

/**
 * The simulated dialer's outcome for a number, by its last digit, so that runs are
 * reproducible: 0–6 answered (completed), 7 no answer, 8 busy, 9 failed; with answering-machine
 * detection on, 6 is a machine (voicemail), as the carriers report it.
 */
export function simulatedOutcome(phone: string, machineDetection = false): Exclude<CallOutcome, "timeout" | "cancelled"> {
	const digit = Number(phone.at(-1));
	if (digit === 6 && machineDetection) return "voicemail";
	if (digit === 7) return "no_answer";
	if (digit === 8) return "busy";
	if (digit === 9) return "failed";
	return "completed";
}
