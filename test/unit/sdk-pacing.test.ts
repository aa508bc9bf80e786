import { describe, expect, it } from "vitest";
import { admittedBy, DEFAULT_PACING, RateBudget, readConnectionCap, readRateHeaders } from "../../sdk/src/pacing";

const WINDOW = DEFAULT_PACING.windowMs;

/** The server's rule, from outside: admitted while fewer than `limit` were admitted in the last window. */
class SlidingWindowServer {
	readonly admitted: number[] = [];
	refused = 0;
	constructor(readonly limit: number) {}

	admit(now: number) {
		const inWindow = this.admitted.filter((at) => at > now - WINDOW);
		if (inWindow.length >= this.limit) {
			this.refused++;
			const oldest = Math.min(...inWindow);
			return { admitted: false as const, retryAfterMs: Math.ceil((oldest + WINDOW - now) / 1000) * 1000 };
		}
		this.admitted.push(now);
		const newest = now;
		return {
			admitted: true as const,
			observation: { limit: this.limit, remaining: this.limit - inWindow.length - 1, resetAtMs: newest + WINDOW },
		};
	}
}

/**
 * `count` requests through one budget against the simulated server, `concurrency` at a time,
 * each taking `latencyMs` (admitted halfway), on a simulated clock. Returns when the last
 * answer came and how many the server refused.
 */
function simulate(count: number, { limit = 60, concurrency = 20, latencyMs = 40, othersUse = 0 } = {}) {
	const server = new SlidingWindowServer(limit);
	// Another client on the same token, before this one starts.
	for (let i = 0; i < othersUse; i++) server.admit(-1_000);
	const budget = new RateBudget();
	let now = 0;
	let done = 0;
	let sent = 0;
	const inFlight: { answersAt: number; admittedAt: number }[] = [];
	const sendTimes: number[] = [];
	while (done < count) {
		// Send whatever may go now.
		while (sent < count && inFlight.length < concurrency && budget.delay(now) === 0) {
			budget.sent(now);
			sendTimes.push(now);
			inFlight.push({ answersAt: now + latencyMs, admittedAt: now + latencyMs / 2 });
			sent++;
		}
		inFlight.sort((a, b) => a.answersAt - b.answersAt);
		const delay = sent < count && inFlight.length < concurrency ? budget.delay(now) : Number.POSITIVE_INFINITY;
		const next = Math.min(inFlight[0]?.answersAt ?? Number.POSITIVE_INFINITY, now + Math.max(1, delay));
		expect(Number.isFinite(next)).toBe(true);
		now = next;
		while (inFlight[0] && inFlight[0].answersAt <= now) {
			const request = inFlight.shift();
			if (!request) break;
			const verdict = server.admit(request.admittedAt);
			if (verdict.admitted) {
				budget.answered(now, { admitted: true, observation: verdict.observation });
				done++;
			} else {
				budget.answered(now, { admitted: false, retryAfterMs: verdict.retryAfterMs });
				sent--; // sent again later, as the client's retry would
			}
		}
	}
	return { finishedAt: now, refused: server.refused, sendTimes };
}

describe("RateBudget", () => {
	it("before its group's limit is known, one request goes and the rest wait for its answer", () => {
		const budget = new RateBudget();
		expect(budget.delay(0)).toBe(0);
		budget.sent(0);
		expect(budget.delay(1)).toBe(Number.POSITIVE_INFINITY);
		budget.answered(50, { admitted: true, observation: { limit: 60, remaining: 59, resetAtMs: 60_050 } });
		expect(budget.knownLimit).toBe(60);
		expect(budget.delay(50)).toBe(0);
	});

	it("alone on its token, 200 requests against 60 a minute: none refused, done in the three windows it takes plus latency", () => {
		const { finishedAt, refused } = simulate(200);
		expect(refused).toBe(0);
		// 60 now, 60 + 60 + 20 as the three next windows open: the 200th is admitted just after 180 s.
		expect(finishedAt).toBeGreaterThan(3 * WINDOW);
		expect(finishedAt).toBeLessThan(3 * WINDOW + 2_000);
	});

	it("spreads the last few of a window instead of sending them at once", () => {
		const { sendTimes, refused } = simulate(60, { concurrency: 60 });
		expect(refused).toBe(0);
		const burst = sendTimes.filter((at) => at < 1_000);
		// Down to the reserve (5) at once (after the probe that learns the limit).
		expect(burst).toHaveLength(60 - DEFAULT_PACING.reserve + 1);
		// Until the first units free (a window after the burst), the rest leave seconds apart.
		const spread = sendTimes.slice(burst.length).filter((at) => at < WINDOW);
		expect(spread.length).toBeGreaterThanOrEqual(2);
		for (let i = 1; i < spread.length; i++) expect((spread[i] ?? 0) - (spread[i - 1] ?? 0)).toBeGreaterThan(5_000);
	});

	it("counts what another client spent with the same token (Remaining below its own count) until Reset", () => {
		const { refused, finishedAt } = simulate(60, { othersUse: 30 });
		// The other client's 30 leave the window at 59 s: its first answer shows them, so it never overshoots.
		expect(refused).toBeLessThanOrEqual(1);
		expect(finishedAt).toBeGreaterThan(59_000);
	});

	it("a 429 holds the whole group for its Retry-After, and costs no unit", () => {
		const budget = new RateBudget();
		budget.sent(0);
		budget.answered(10, { admitted: true, observation: { limit: 10, remaining: 9, resetAtMs: 60_010 } });
		budget.sent(20);
		budget.answered(30, { admitted: false, retryAfterMs: 5_000 });
		expect(budget.delay(30)).toBe(5_000);
		expect(budget.delay(5_030)).toBe(0);
	});

	it("every unit held by a request in flight: wait for an answer", () => {
		const budget = new RateBudget();
		budget.sent(0);
		budget.answered(10, { admitted: true, observation: { limit: 2, remaining: 1, resetAtMs: 60_010 } });
		budget.sent(20);
		expect(budget.delay(21)).toBeGreaterThan(0);
		budget.sent(21);
		// Full: the first unit frees a window (and the margin) after its answer.
		expect(budget.delay(22)).toBe(10 + WINDOW + DEFAULT_PACING.marginMs - 22);
	});
});

describe("rate-limit headers", () => {
	const headers = (fields: Record<string, string>) => new Headers(fields);

	it("the group from RateLimit, numbers from X-RateLimit-*, Reset relative (t=) on the client's clock", () => {
		expect(
			readRateHeaders(
				headers({
					RateLimit: '"pbx";r=42;t=18',
					"X-RateLimit-Limit": "60",
					"X-RateLimit-Remaining": "42",
					"X-RateLimit-Reset": "1",
				}),
				1_000,
			),
		).toEqual({ group: "pbx", observation: { limit: 60, remaining: 42, resetAtMs: 19_000 } });
	});

	it("none without them (health, login)", () => {
		expect(readRateHeaders(headers({}), 0)).toBeUndefined();
		expect(readRateHeaders(headers({ RateLimit: '"pbx";r=1;t=1' }), 0)).toBeUndefined();
	});

	it("when a request was admitted at the latest: Reset (admission + window, rounded up) against Date (rounded down)", () => {
		// Admitted at 10:00:00.400 server time (Reset 10:01:01), answered at 10:00:03.900 (Date 10:00:03), received at 5,000 on the client's clock.
		const admitted = Date.parse("2030-01-01T10:00:00.400Z");
		const headers = new Headers({
			"X-RateLimit-Reset": String(Math.ceil((admitted + WINDOW) / 1000)),
			Date: new Date(admitted + 3_500).toUTCString(),
		});
		// The server held it at least 3 s - 1 s of rounding = 2 s: the unit counts from 3,000, not 5,000.
		expect(admittedBy(headers, 5_000)).toBe(3_000);
		// Never later than the answer, and the answer's time without the headers (a browser may not expose Date).
		expect(
			admittedBy(
				new Headers({
					"X-RateLimit-Reset": String(Math.ceil((admitted + WINDOW) / 1000)),
					Date: new Date(admitted).toUTCString(),
				}),
				5_000,
			),
		).toBe(5_000);
		expect(admittedBy(new Headers(), 5_000)).toBe(5_000);
	});

	it("a unit counts from when its request was admitted at the latest", () => {
		const budget = new RateBudget();
		budget.sent(0);
		budget.answered(4_000, { admitted: true, admittedBy: 1_000, observation: { limit: 1, remaining: 0, resetAtMs: 61_000 } });
		expect(budget.delay(4_000)).toBe(1_000 + WINDOW + DEFAULT_PACING.marginMs - 4_000);
	});

	it("the connection cap from RateLimit-Policy's concurrency item", () => {
		expect(
			readConnectionCap(headers({ "RateLimit-Policy": '"pbx";q=60;w=60, "connections";q=100;qu="concurrent-requests"' })),
		).toBe(100);
		expect(readConnectionCap(headers({ "RateLimit-Policy": '"pbx";q=60;w=60' }))).toBeUndefined();
	});
});
