/**
 * The contact ledger's decisions, pure: whether a campaign call may be dialled now, given the
 * account's do-not-call list and the attempts it has counted per number. The ledger (one
 * Durable Object per account) loads what a batch of claims needs, runs `planClaims` and
 * writes its result in one synchronous step, so two campaigns asking at the same instant
 * are answered one after the other against the same counts.
 */

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Counted attempts are kept this long, so a cap of up to this many days counts every attempt
 * in its window; older rows (and given-back call ids) are purged. The contact policy's
 * `max_attempts_per_number.days` is bounded by it.
 */
export const KEEP_ATTEMPTS_DAYS = 400;

/** `max_attempts_per_number` of the account's contact policy: at most `count` dials of one number in `days` × 24 h. */
export interface AttemptCap {
	count: number;
	days: number;
}

export type SkipReason = "do_not_call" | "max_attempts";

export interface ClaimRequest {
	callId: string;
	/** E.164. */
	phone: string;
	/**
	 * The provider may already have this call (an earlier ask of it got no answer): asking again
	 * under the same id settles that dial, which began before anything the ledger learnt since,
	 * so it is never refused; the provider dedupes it.
	 */
	maybePlaced: boolean;
}

export type ClaimAnswer =
	| { callId: string; verdict: "dial" }
	| { callId: string; verdict: "skip"; reason: SkipReason }
	/** The call id was given back for good (its campaign closed it undialled): never dial it. */
	| { callId: string; verdict: "closed" };

/** An attempt the ledger counts: one per call id, stamped with the last time it was cleared to dial. */
export interface CountedAttempt {
	callId: string;
	phone: string;
	at: number;
}

/** What a batch of claims is decided on: the relevant part of the ledger's storage. */
export interface LedgerView {
	/** The asked numbers that are on the do-not-call list. */
	listed: ReadonlySet<string>;
	/** Counted attempts of the asked numbers (and of the asked call ids). */
	attempts: readonly CountedAttempt[];
	/** Asked call ids that were given back for good. */
	released: ReadonlySet<string>;
}

export interface ClaimPlan {
	answers: ClaimAnswer[];
	/** Attempts to store (insert, or re-stamp an existing call id). */
	count: CountedAttempt[];
	/** Call ids whose count is dropped: the call was refused, so it is no attempt. */
	uncount: string[];
}

/**
 * The counting window of a cap at `now`: attempts stamped after this instant count, i.e. the
 * half-open interval (now − days × 24 h, now]. Rolling, not calendar days: no time zone to
 * disagree about, and the cap holds over every span of that length.
 */
export const windowStart = (now: number, days: number) => now - days * DAY_MS;

/**
 * Decides each claim in order, each seeing the counts the earlier ones made. A call id is
 * counted once however often it is asked: a re-ask (after a lost answer, a provider's
 * transient refusal, a restart) re-stamps its one attempt to now and checks the others.
 * Stamping the last clearance keeps every stamp at or after the real dial, so an attempt
 * stays in the window at least as long as the call it stands for: the cap is never exceeded.
 */
export function planClaims(requests: readonly ClaimRequest[], view: LedgerView, cap: AttemptCap | null, now: number): ClaimPlan {
	const byPhone = new Map<string, Map<string, number>>();
	for (const attempt of view.attempts) {
		const counted = byPhone.get(attempt.phone) ?? new Map<string, number>();
		counted.set(attempt.callId, attempt.at);
		byPhone.set(attempt.phone, counted);
	}
	const plan: ClaimPlan = { answers: [], count: [], uncount: [] };
	const counted = (phone: string) => {
		const existing = byPhone.get(phone);
		if (existing) return existing;
		const fresh = new Map<string, number>();
		byPhone.set(phone, fresh);
		return fresh;
	};
	const refuse = (request: ClaimRequest, reason: SkipReason) => {
		if (counted(request.phone).delete(request.callId)) {
			plan.uncount.push(request.callId);
			plan.count = plan.count.filter((attempt) => attempt.callId !== request.callId);
		}
		plan.answers.push({ callId: request.callId, verdict: "skip", reason });
	};
	for (const request of requests) {
		if (view.released.has(request.callId)) {
			plan.answers.push({ callId: request.callId, verdict: "closed" });
			continue;
		}
		const attempts = counted(request.phone);
		if (!request.maybePlaced) {
			if (view.listed.has(request.phone)) {
				refuse(request, "do_not_call");
				continue;
			}
			if (cap && othersInWindow(attempts, request.callId, windowStart(now, cap.days)) >= cap.count) {
				refuse(request, "max_attempts");
				continue;
			}
		}
		attempts.set(request.callId, now);
		plan.count.push({ callId: request.callId, phone: request.phone, at: now });
		plan.answers.push({ callId: request.callId, verdict: "dial" });
	}
	return plan;
}

/** Attempts of one number inside the window, the asking call's own (a re-ask) left out. */
function othersInWindow(attempts: ReadonlyMap<string, number>, callId: string, after: number): number {
	let n = 0;
	for (const [id, at] of attempts) if (id !== callId && at > after) n++;
	return n;
}
