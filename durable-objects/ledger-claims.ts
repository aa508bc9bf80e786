/**
 * The contact ledger's decisions, pure: whether a campaign call may be dialled now, given the
 * account's do-not-call list and the attempts it has counted per number. The ledger (one
 * Durable Object per account) loads what a batch of claims needs, runs `planClaims` and
 * writes its result in one synchronous step, so two campaigns asking at the same instant
 * are answered one after the other against the same counts.
 *
 * A count is one of two kinds. A **reservation**: the ledger cleared the call, and the
 * provider has not (yet) been seen to take it: it may never be placed (refused for now, its
 * campaign cancelled). A **placed** count: the call's pacer confirmed the provider took it,
 * stamped with that moment. Only placed counts refuse a number for good; reservations make the
 * claims they stand in the way of wait, since they may yet be given back.
 */

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Counted attempts are kept this long, so a cap of up to this many days counts every attempt
 * in its window; older rows (and given-back call ids) are purged. The contact policy's
 * `max_attempts_per_number.days` is bounded by it.
 */
export const KEEP_ATTEMPTS_DAYS = 400;

/**
 * A reservation stamped this recently is most likely a dial going out now, confirmed or given
 * back within seconds (the pacer's 5 s ledger deadline, the provider's 10 s answer, the D1
 * writes around them, with room for a busy machine): a claim it holds back is asked again
 * soon. An older one waits on an outage or a call the provider may have, which takes longer
 * to settle.
 */
export const SETTLING_MS = 30_000;
/** How long a claim held back by reservations waits before it is asked again (the pacer adds up to as much jitter). */
export const WAIT_SETTLING_MS = 3_000;
export const WAIT_UNSETTLED_MS = 30_000;

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
	/**
	 * Reservations of other calls fill the number's cap for now: not dialled, not refused (they
	 * may be given back); ask again in `retryInMs`. Nothing is counted for this call meanwhile.
	 */
	| { callId: string; verdict: "wait"; retryInMs: number }
	/** The call id was given back for good (its campaign closed it undialled): never dial it. */
	| { callId: string; verdict: "closed" };

/** An attempt the ledger counts: one per call id. */
export interface CountedAttempt {
	callId: string;
	phone: string;
	/** A reservation: when its call was last cleared. Placed: when the provider took it (the pacer's clock). */
	at: number;
	placed: boolean;
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
	/** Reservations to store (insert, or re-stamp an existing reservation of the call id). */
	count: CountedAttempt[];
	/** Call ids whose reservation is dropped: the call was refused or held back, so it is no attempt (yet). */
	uncount: string[];
}

/**
 * The counting window of a cap at `now`: attempts stamped after this instant count, i.e. the
 * half-open interval (now − days × 24 h, now]. Rolling, not calendar days: no time zone to
 * disagree about, and the cap holds over every span of that length.
 */
export const windowStart = (now: number, days: number) => now - days * DAY_MS;

/** What stands in a number's window, the asking call's own count left out. */
export interface WindowCounts {
	placed: number;
	reserved: number;
	/** The latest stamp among the reservations (null: none). */
	newestReservation: number | null;
}

/** The attempts of one number inside the window after `after`, leaving out `callId` (a re-ask's own). */
export function countInWindow(attempts: Iterable<CountedAttempt>, callId: string, after: number): WindowCounts {
	const counts: WindowCounts = { placed: 0, reserved: 0, newestReservation: null };
	for (const attempt of attempts) {
		if (attempt.callId === callId || attempt.at <= after) continue;
		if (attempt.placed) counts.placed++;
		else {
			counts.reserved++;
			counts.newestReservation = Math.max(counts.newestReservation ?? attempt.at, attempt.at);
		}
	}
	return counts;
}

/** How long a claim the reservations hold back waits: briefly when they are dials going out now. */
export const waitFor = (newestReservation: number, now: number) =>
	now - newestReservation < SETTLING_MS ? WAIT_SETTLING_MS : WAIT_UNSETTLED_MS;

/**
 * Decides each claim in order, each seeing the counts the earlier ones made. A call id is
 * counted once however often it is asked: a re-ask (after a lost answer, a provider's
 * transient refusal, a restart) re-stamps its one reservation to now and checks the others;
 * a call already confirmed placed keeps its count as it is. A number whose placed counts fill
 * the cap is refused (`skip`, for good); one whose cap only reservations fill answers `wait`.
 */
export function planClaims(requests: readonly ClaimRequest[], view: LedgerView, cap: AttemptCap | null, now: number): ClaimPlan {
	const byPhone = new Map<string, Map<string, CountedAttempt>>();
	const counted = (phone: string) => {
		let existing = byPhone.get(phone);
		if (!existing) {
			existing = new Map();
			byPhone.set(phone, existing);
		}
		return existing;
	};
	for (const attempt of view.attempts) counted(attempt.phone).set(attempt.callId, attempt);
	const plan: ClaimPlan = { answers: [], count: [], uncount: [] };
	const drop = (request: ClaimRequest) => {
		if (counted(request.phone).delete(request.callId)) {
			plan.uncount.push(request.callId);
			plan.count = plan.count.filter((attempt) => attempt.callId !== request.callId);
		}
	};
	for (const request of requests) {
		if (view.released.has(request.callId)) {
			plan.answers.push({ callId: request.callId, verdict: "closed" });
			continue;
		}
		const attempts = counted(request.phone);
		if (attempts.get(request.callId)?.placed) {
			// The provider took it already: the same dial, counted once, as it was stamped.
			plan.answers.push({ callId: request.callId, verdict: "dial" });
			continue;
		}
		if (!request.maybePlaced) {
			if (view.listed.has(request.phone)) {
				drop(request);
				plan.answers.push({ callId: request.callId, verdict: "skip", reason: "do_not_call" });
				continue;
			}
			if (cap) {
				const inWindow = countInWindow(attempts.values(), request.callId, windowStart(now, cap.days));
				if (inWindow.placed >= cap.count) {
					drop(request);
					plan.answers.push({ callId: request.callId, verdict: "skip", reason: "max_attempts" });
					continue;
				}
				if (inWindow.placed + inWindow.reserved >= cap.count) {
					drop(request);
					const retryInMs = waitFor(inWindow.newestReservation ?? now, now);
					plan.answers.push({ callId: request.callId, verdict: "wait", retryInMs });
					continue;
				}
			}
		}
		const reservation: CountedAttempt = { callId: request.callId, phone: request.phone, at: now, placed: false };
		attempts.set(request.callId, reservation);
		plan.count = plan.count.filter((attempt) => attempt.callId !== request.callId);
		plan.count.push(reservation);
		plan.answers.push({ callId: request.callId, verdict: "dial" });
	}
	return plan;
}
