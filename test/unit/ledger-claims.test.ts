import { describe, expect, it } from "vitest";
import {
	type ClaimRequest,
	type CountedAttempt,
	type LedgerView,
	planClaims,
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
const attempt = (callId: string, at: number, phone = A): CountedAttempt => ({ callId, phone, at });
const verdicts = (plan: ReturnType<typeof planClaims>) =>
	plan.answers.map((answer) => (answer.verdict === "skip" ? `skip:${answer.reason}` : answer.verdict));

describe("windowStart: the last days × 24 h, rolling", () => {
	it("is exactly days × 24 h back, whatever the calendar (no DST in it)", () => {
		expect(windowStart(NOW, 1)).toBe(NOW - DAY);
		expect(windowStart(NOW, 7)).toBe(NOW - 7 * DAY);
	});

	it("is half-open: an attempt exactly days × 24 h old no longer counts, one a millisecond younger does", () => {
		const cap = { count: 1, days: 1 };
		expect(verdicts(planClaims([ask("new")], view({ attempts: [attempt("old", NOW - DAY)] }), cap, NOW))).toEqual(["dial"]);
		expect(verdicts(planClaims([ask("new")], view({ attempts: [attempt("old", NOW - DAY + 1)] }), cap, NOW))).toEqual([
			"skip:max_attempts",
		]);
	});
});

describe("planClaims", () => {
	it("no list and no cap: every call dials and is counted now", () => {
		const plan = planClaims([ask("c1"), ask("c2", B)], view(), null, NOW);
		expect(verdicts(plan)).toEqual(["dial", "dial"]);
		expect(plan.count).toEqual([attempt("c1", NOW), attempt("c2", NOW, B)]);
		expect(plan.uncount).toEqual([]);
	});

	it("a listed number is skipped and nothing is counted for it", () => {
		const plan = planClaims([ask("c1"), ask("c2", B)], view({ listed: new Set([A]) }), null, NOW);
		expect(verdicts(plan)).toEqual(["skip:do_not_call", "dial"]);
		expect(plan.count.map((c) => c.callId)).toEqual(["c2"]);
	});

	it("the cap counts the attempts of the batch itself, in order: the third of three for one number is refused", () => {
		const plan = planClaims([ask("c1"), ask("c2"), ask("c3"), ask("d1", B)], view(), { count: 2, days: 1 }, NOW);
		expect(verdicts(plan)).toEqual(["dial", "dial", "skip:max_attempts", "dial"]);
		expect(plan.count.map((c) => c.callId)).toEqual(["c1", "c2", "d1"]);
	});

	it("counts stored attempts inside the window and not those before it", () => {
		const stored = [attempt("old", NOW - 2 * DAY), attempt("recent", NOW - HOUR)];
		expect(verdicts(planClaims([ask("c1"), ask("c2")], view({ attempts: stored }), { count: 2, days: 1 }, NOW))).toEqual([
			"dial",
			"skip:max_attempts",
		]);
		expect(verdicts(planClaims([ask("c1")], view({ attempts: stored }), { count: 2, days: 3 }, NOW))).toEqual([
			"skip:max_attempts",
		]);
	});

	it("asking again for a counted call id neither counts it twice nor refuses it for its own count", () => {
		const stored = [attempt("c1", NOW - HOUR)];
		const plan = planClaims([ask("c1")], view({ attempts: stored }), { count: 1, days: 1 }, NOW);
		expect(verdicts(plan)).toEqual(["dial"]);
		// Re-stamped to now: the attempt is the dial about to go out.
		expect(plan.count).toEqual([attempt("c1", NOW)]);
	});

	it("a re-ask refused (listed since, or the cap taken by others) drops its count", () => {
		const listed = planClaims([ask("c1")], view({ attempts: [attempt("c1", NOW - HOUR)], listed: new Set([A]) }), null, NOW);
		expect(verdicts(listed)).toEqual(["skip:do_not_call"]);
		expect(listed.uncount).toEqual(["c1"]);
		const capped = planClaims(
			[ask("c1")],
			view({ attempts: [attempt("c1", NOW - 2 * HOUR), attempt("other", NOW - HOUR)] }),
			{ count: 1, days: 1 },
			NOW,
		);
		expect(verdicts(capped)).toEqual(["skip:max_attempts"]);
		expect(capped.uncount).toEqual(["c1"]);
		expect(capped.count).toEqual([]);
	});

	it("a call the provider may already have is asked again even if listed or capped since, and stamped now", () => {
		const stored = [attempt("c1", NOW - HOUR), attempt("other", NOW - HOUR)];
		const plan = planClaims([ask("c1", A, true)], view({ attempts: stored, listed: new Set([A]) }), { count: 1, days: 1 }, NOW);
		expect(verdicts(plan)).toEqual(["dial"]);
		expect(plan.count).toEqual([attempt("c1", NOW)]);
	});

	it("counts a maybe-placed call in the window of the calls after it", () => {
		const plan = planClaims([ask("c1", A, true), ask("c2")], view(), { count: 1, days: 1 }, NOW);
		expect(verdicts(plan)).toEqual(["dial", "skip:max_attempts"]);
	});

	it("a call id given back for good is never cleared, maybe-placed or not", () => {
		const plan = planClaims([ask("c1"), ask("c2", A, true)], view({ released: new Set(["c1", "c2"]) }), null, NOW);
		expect(verdicts(plan)).toEqual(["closed", "closed"]);
		expect(plan.count).toEqual([]);
	});

	it("one call id asked twice in a batch is counted once", () => {
		const plan = planClaims([ask("c1"), ask("c1")], view(), { count: 1, days: 1 }, NOW);
		expect(verdicts(plan)).toEqual(["dial", "dial"]);
		expect(new Set(plan.count.map((c) => c.callId)).size).toBe(1);
	});

	it("never more than `count` dials of one number in any window, over a random sequence of asks", () => {
		let seed = 7;
		const rand = () => {
			seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
			return seed / 2 ** 31;
		};
		const cap = { count: 3, days: 2 };
		const stored = new Map<string, CountedAttempt>();
		// Each call id's last ask: a re-ask means the provider refused the earlier one, so only the last may have rung.
		const lastAsk = new Map<string, { at: number; dialled: boolean }>();
		let now = NOW;
		for (let step = 0; step < 2_000; step++) {
			now += Math.floor(rand() * 6 * HOUR);
			// Sometimes a re-ask of an earlier call id (a lost answer, a transient refusal), mostly new ones.
			const recent = [...lastAsk.keys()].slice(-3);
			const callId = recent.length && rand() < 0.3 ? (recent[Math.floor(rand() * recent.length)] as string) : `c${step}`;
			const plan = planClaims([ask(callId)], view({ attempts: [...stored.values()] }), cap, now);
			for (const id of plan.uncount) stored.delete(id);
			for (const counted of plan.count) stored.set(counted.callId, counted);
			lastAsk.set(callId, { at: now, dialled: plan.answers[0]?.verdict === "dial" });
		}
		const times = [...lastAsk.values()]
			.filter((last) => last.dialled)
			.map((last) => last.at)
			.sort((a, b) => a - b);
		for (const at of times) {
			const inWindow = times.filter((other) => other > at - cap.days * DAY && other <= at).length;
			expect(inWindow).toBeLessThanOrEqual(cap.count);
		}
		// And the cap is used, not merely respected: 3 per 2 days over ~250 days.
		expect(times.length).toBeGreaterThan(200);
	});
});
