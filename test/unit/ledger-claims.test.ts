import { describe, expect, it } from "vitest";
import {
	type ClaimRequest,
	type CountedAttempt,
	countInWindow,
	type LedgerView,
	planClaims,
	SETTLING_MS,
	WAIT_SETTLING_MS,
	WAIT_UNSETTLED_MS,
	windowStart,
} from "../../durable-objects/ledger-claims";

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const NOW = Date.parse("2030-03-04T15:00:00Z");
const A = "+14155550101";
const B = "+14155550102";

const view = (parts: Partial<LedgerView> = {}): LedgerView => ({
	listed: new Set(),
	attempts: [],
	released: new Set(),
	...parts,
});
const ask = (callId: string, phone = A, maybePlaced = false): ClaimRequest => ({ callId, phone, maybePlaced });
/** A placed count (the provider took the call at `at`). */
const placed = (callId: string, at: number, phone = A): CountedAttempt => ({ callId, phone, at, placed: true });
/** A reservation (cleared at `at`, not yet seen placed). */
const reserved = (callId: string, at: number, phone = A): CountedAttempt => ({ callId, phone, at, placed: false });
const verdicts = (plan: ReturnType<typeof planClaims>) =>
	plan.answers.map((answer) => (answer.verdict === "skip" ? `skip:${answer.reason}` : answer.verdict));

describe("windowStart: the last days × 24 h, rolling", () => {
	it("is exactly days × 24 h back, whatever the calendar (no DST in it)", () => {
		expect(windowStart(NOW, 1)).toBe(NOW - DAY);
		expect(windowStart(NOW, 7)).toBe(NOW - 7 * DAY);
	});

	it("is half-open: a placed call exactly days × 24 h old no longer counts, one a millisecond younger does", () => {
		const cap = { count: 1, days: 1 };
		expect(verdicts(planClaims([ask("new")], view({ attempts: [placed("old", NOW - DAY)] }), cap, NOW))).toEqual(["dial"]);
		expect(verdicts(planClaims([ask("new")], view({ attempts: [placed("old", NOW - DAY + 1)] }), cap, NOW))).toEqual([
			"skip:max_attempts",
		]);
	});
});

describe("countInWindow", () => {
	it("counts placed and reserved apart, inside the window, leaving out the asking call's own", () => {
		const attempts = [
			placed("p1", NOW - HOUR),
			placed("old", NOW - 2 * DAY),
			reserved("r1", NOW - 2 * HOUR),
			reserved("r2", NOW - 10_000),
			reserved("mine", NOW - 1_000),
		];
		expect(countInWindow(attempts, "mine", windowStart(NOW, 1))).toEqual({
			placed: 1,
			reserved: 2,
			newestReservation: NOW - 10_000,
		});
	});
});

describe("planClaims", () => {
	it("no list and no cap: every call dials and is reserved now", () => {
		const plan = planClaims([ask("c1"), ask("c2", B)], view(), null, NOW);
		expect(verdicts(plan)).toEqual(["dial", "dial"]);
		expect(plan.count).toEqual([reserved("c1", NOW), reserved("c2", NOW, B)]);
		expect(plan.uncount).toEqual([]);
	});

	it("a listed number is skipped and nothing is counted for it", () => {
		const plan = planClaims([ask("c1"), ask("c2", B)], view({ listed: new Set([A]) }), null, NOW);
		expect(verdicts(plan)).toEqual(["skip:do_not_call", "dial"]);
		expect(plan.count.map((c) => c.callId)).toEqual(["c2"]);
	});

	it("the batch's own reservations fill the cap in order: the third of three for one number waits, it is not refused", () => {
		const plan = planClaims([ask("c1"), ask("c2"), ask("c3"), ask("d1", B)], view(), { count: 2, days: 1 }, NOW);
		expect(verdicts(plan)).toEqual(["dial", "dial", "wait", "dial"]);
		expect(plan.count.map((c) => c.callId)).toEqual(["c1", "c2", "d1"]);
	});

	it("only placed counts refuse for good: placed ones filling the cap skip, reservations filling it make the claim wait", () => {
		const cap = { count: 2, days: 1 };
		const twoPlaced = [placed("p1", NOW - HOUR), placed("p2", NOW - 2 * HOUR)];
		expect(verdicts(planClaims([ask("c1")], view({ attempts: twoPlaced }), cap, NOW))).toEqual(["skip:max_attempts"]);
		const mixed = [placed("p1", NOW - HOUR), reserved("r1", NOW - 2 * HOUR)];
		const plan = planClaims([ask("c1")], view({ attempts: mixed }), cap, NOW);
		expect(plan.answers).toEqual([{ callId: "c1", verdict: "wait", retryInMs: WAIT_UNSETTLED_MS }]);
		expect(plan.count).toEqual([]);
	});

	it("a wait is short while the reservation in the way is a dial going out now, longer once it is older", () => {
		const cap = { count: 1, days: 1 };
		const fresh = planClaims([ask("c1")], view({ attempts: [reserved("r1", NOW - SETTLING_MS + 1)] }), cap, NOW);
		expect(fresh.answers).toEqual([{ callId: "c1", verdict: "wait", retryInMs: WAIT_SETTLING_MS }]);
		const old = planClaims([ask("c1")], view({ attempts: [reserved("r1", NOW - SETTLING_MS)] }), cap, NOW);
		expect(old.answers).toEqual([{ callId: "c1", verdict: "wait", retryInMs: WAIT_UNSETTLED_MS }]);
	});

	it("a re-ask that must wait gives up its own reservation: it is no attempt while it waits", () => {
		const attempts = [reserved("c1", NOW - HOUR), reserved("other", NOW - 2 * HOUR)];
		const plan = planClaims([ask("c1")], view({ attempts }), { count: 1, days: 1 }, NOW);
		expect(verdicts(plan)).toEqual(["wait"]);
		expect(plan.uncount).toEqual(["c1"]);
	});

	it("counts what is inside the window and not what is before it", () => {
		const stored = [placed("old", NOW - 2 * DAY), placed("recent", NOW - HOUR)];
		expect(verdicts(planClaims([ask("c1"), ask("c2")], view({ attempts: stored }), { count: 2, days: 1 }, NOW))).toEqual([
			"dial",
			"wait",
		]);
		expect(verdicts(planClaims([ask("c1")], view({ attempts: stored }), { count: 2, days: 3 }, NOW))).toEqual([
			"skip:max_attempts",
		]);
		// A reservation older than the window holds nothing back either.
		expect(verdicts(planClaims([ask("c1")], view({ attempts: [reserved("r", NOW - DAY)] }), { count: 1, days: 1 }, NOW))).toEqual(
			["dial"],
		);
	});

	it("asking again for a reserved call id neither counts it twice nor holds it back for its own count; it is re-stamped now", () => {
		const plan = planClaims([ask("c1")], view({ attempts: [reserved("c1", NOW - HOUR)] }), { count: 1, days: 1 }, NOW);
		expect(verdicts(plan)).toEqual(["dial"]);
		expect(plan.count).toEqual([reserved("c1", NOW)]);
	});

	it("asking again for a call already confirmed placed dials (the same call) and leaves its placed stamp alone", () => {
		const attempts = [placed("c1", NOW - HOUR), placed("other", NOW - HOUR)];
		const plan = planClaims([ask("c1")], view({ attempts, listed: new Set([A]) }), { count: 1, days: 1 }, NOW);
		expect(verdicts(plan)).toEqual(["dial"]);
		expect(plan.count).toEqual([]);
		expect(plan.uncount).toEqual([]);
	});

	it("a re-ask refused (listed since, or the cap taken by placed calls) drops its reservation", () => {
		const listed = planClaims([ask("c1")], view({ attempts: [reserved("c1", NOW - HOUR)], listed: new Set([A]) }), null, NOW);
		expect(verdicts(listed)).toEqual(["skip:do_not_call"]);
		expect(listed.uncount).toEqual(["c1"]);
		const capped = planClaims(
			[ask("c1")],
			view({ attempts: [reserved("c1", NOW - 2 * HOUR), placed("other", NOW - HOUR)] }),
			{ count: 1, days: 1 },
			NOW,
		);
		expect(verdicts(capped)).toEqual(["skip:max_attempts"]);
		expect(capped.uncount).toEqual(["c1"]);
		expect(capped.count).toEqual([]);
	});

	it("a call the provider may already have is asked again even if listed or capped since, and re-stamped as a reservation", () => {
		const stored = [reserved("c1", NOW - HOUR), placed("other", NOW - HOUR)];
		const plan = planClaims([ask("c1", A, true)], view({ attempts: stored, listed: new Set([A]) }), { count: 1, days: 1 }, NOW);
		expect(verdicts(plan)).toEqual(["dial"]);
		expect(plan.count).toEqual([reserved("c1", NOW)]);
	});

	it("a maybe-placed call's reservation holds back the calls after it (they wait, they are not refused)", () => {
		const plan = planClaims([ask("c1", A, true), ask("c2")], view(), { count: 1, days: 1 }, NOW);
		expect(verdicts(plan)).toEqual(["dial", "wait"]);
	});

	it("a call id given back for good is never cleared, maybe-placed or not", () => {
		const plan = planClaims([ask("c1"), ask("c2", A, true)], view({ released: new Set(["c1", "c2"]) }), null, NOW);
		expect(verdicts(plan)).toEqual(["closed", "closed"]);
		expect(plan.count).toEqual([]);
	});

	it("one call id asked twice in a batch is counted once", () => {
		const plan = planClaims([ask("c1"), ask("c1")], view(), { count: 1, days: 1 }, NOW);
		expect(verdicts(plan)).toEqual(["dial", "dial"]);
		expect(plan.count).toEqual([reserved("c1", NOW)]);
	});

	it("over a random run of claims, provider refusals, cancels and confirms: never more than `count` placed calls of one number in any window, and a number under its cap is never refused", () => {
		let seed = 7;
		const rand = () => {
			seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
			return seed / 2 ** 31;
		};
		const cap = { count: 3, days: 2 };
		const stored = new Map<string, CountedAttempt>();
		const released = new Set<string>();
		/** When the provider took each call (what the cap is about). */
		const placedAt: number[] = [];
		/** Calls cleared, waiting for the provider to take them (confirm) or refuse them for good (give back). */
		let open: { callId: string; clearedAt: number }[] = [];
		let now = NOW;
		let refusedUnderCap = 0;
		let waits = 0;
		for (let step = 0; step < 3_000; step++) {
			now += Math.floor(rand() * 3 * HOUR);
			// The provider settles some cleared calls: it takes them a little after they were cleared, or they are cancelled.
			for (const call of open) {
				const roll = rand();
				if (roll < 0.5) {
					const at = Math.max(call.clearedAt + Math.floor(rand() * 5_000), now - Math.floor(rand() * 1_000));
					stored.set(call.callId, { callId: call.callId, phone: A, at, placed: true });
					placedAt.push(at);
				} else if (roll < 0.7) {
					stored.delete(call.callId);
					released.add(call.callId);
				}
			}
			open = open.filter((call) => stored.get(call.callId)?.placed !== true && !released.has(call.callId));
			// A new call, or now and then a re-ask of an open one (its provider refused it for now).
			const reask = open.length && rand() < 0.3 ? open[Math.floor(rand() * open.length)] : undefined;
			const callId = reask?.callId ?? `c${step}`;
			const placedInWindow = placedAt.filter((at) => at > windowStart(now, cap.days)).length;
			const plan = planClaims([ask(callId)], view({ attempts: [...stored.values()], released }), cap, now);
			for (const id of plan.uncount) stored.delete(id);
			for (const counted of plan.count) stored.set(counted.callId, counted);
			const answer = plan.answers[0];
			if (answer?.verdict === "skip" && placedInWindow < cap.count) refusedUnderCap++;
			if (answer?.verdict === "wait") waits++;
			if (answer?.verdict === "dial" && !reask) open.push({ callId, clearedAt: now });
			if (answer?.verdict !== "dial" && reask) open = open.filter((call) => call.callId !== callId);
		}
		placedAt.sort((a, b) => a - b);
		for (let i = cap.count; i < placedAt.length; i++) {
			expect((placedAt[i] as number) - (placedAt[i - cap.count] as number)).toBeGreaterThanOrEqual(cap.days * DAY);
		}
		expect(refusedUnderCap).toBe(0);
		expect(waits).toBeGreaterThan(0);
		// The cap is used, not merely respected: 3 per 2 days over ~190 days is at most ~280.
		expect(placedAt.length).toBeGreaterThan(200);
	});
});
