import { describe, expect, it } from "vitest";
import { backoffDelay, retryAfterMs } from "../../sdk/src/backoff";
import { DEFAULT_RETRY, retryDecision } from "../../sdk/src/retry";

describe("backoff", () => {
	it("is the seed's 1 s · 2^n capped at 30 s, plus up to 1 s of jitter", () => {
		expect([0, 1, 2, 3, 4, 5, 6, 10].map((attempt) => backoffDelay(attempt, () => 0))).toEqual([
			1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
		]);
		expect(backoffDelay(0, () => 0.999)).toBeCloseTo(1_999);
		expect(backoffDelay(5, () => 0.5)).toBe(30_500);
	});

	it("Retry-After as seconds or an HTTP date; unreadable or absent is undefined", () => {
		const now = Date.parse("2030-01-01T00:00:00Z");
		expect(retryAfterMs("25", now)).toBe(25_000);
		expect(retryAfterMs(" 1 ", now)).toBe(1_000);
		expect(retryAfterMs("Tue, 01 Jan 2030 00:00:10 GMT", now)).toBe(10_000);
		expect(retryAfterMs("Mon, 31 Dec 2029 23:59:00 GMT", now)).toBe(0);
		expect(retryAfterMs("soon", now)).toBeUndefined();
		expect(retryAfterMs(null, now)).toBeUndefined();
	});
});

describe("retryDecision", () => {
	const zero = () => 0;
	const first = (repeatable: boolean) => ({ attempt: 0, repeatable });

	it("a 429 was refused before anything ran: retried after its Retry-After, even a write without a key", () => {
		expect(retryDecision({ status: 429, retryAfterMs: 25_000 }, first(false), DEFAULT_RETRY, zero)).toEqual({
			retry: true,
			delayMs: 25_000,
			reason: "rate-limited",
		});
		expect(retryDecision({ status: 429 }, first(false), DEFAULT_RETRY, zero)).toMatchObject({ retry: true, delayMs: 1_000 });
	});

	it("a 409 with Retry-After (the key's first request still running) is retried after it; a plain 409 is the answer", () => {
		expect(retryDecision({ status: 409, retryAfterMs: 1_000 }, first(true), DEFAULT_RETRY, zero)).toEqual({
			retry: true,
			delayMs: 1_000,
			reason: "in-flight",
		});
		expect(retryDecision({ status: 409 }, first(true), DEFAULT_RETRY, zero)).toEqual({ retry: false });
	});

	it("5xx and lost answers are retried with backoff only when repeating is safe", () => {
		expect(retryDecision({ status: 503 }, { attempt: 2, repeatable: true }, DEFAULT_RETRY, zero)).toEqual({
			retry: true,
			delayMs: 4_000,
			reason: "server-error",
		});
		expect(retryDecision({ status: 503, retryAfterMs: 9_000 }, first(true), DEFAULT_RETRY, zero)).toMatchObject({
			delayMs: 9_000,
		});
		expect(retryDecision({ networkError: true }, first(true), DEFAULT_RETRY, zero)).toEqual({
			retry: true,
			delayMs: 1_000,
			reason: "network-error",
		});
		expect(retryDecision({ status: 500 }, first(false), DEFAULT_RETRY, zero)).toEqual({ retry: false });
		expect(retryDecision({ networkError: true }, first(false), DEFAULT_RETRY, zero)).toEqual({ retry: false });
	});

	it("other statuses are the answer", () => {
		for (const status of [400, 401, 403, 404, 412, 413, 422]) {
			expect(retryDecision({ status, retryAfterMs: 1_000 }, first(true), DEFAULT_RETRY, zero)).toEqual({ retry: false });
		}
	});

	it("stops after maxAttempts attempts in all (5 by default)", () => {
		expect(retryDecision({ status: 429 }, { attempt: 3, repeatable: true }).retry).toBe(true);
		expect(retryDecision({ status: 429 }, { attempt: 4, repeatable: true }).retry).toBe(false);
		expect(retryDecision({ status: 503 }, { attempt: 1, repeatable: true }, { ...DEFAULT_RETRY, maxAttempts: 2 }).retry).toBe(
			false,
		);
	});
});
