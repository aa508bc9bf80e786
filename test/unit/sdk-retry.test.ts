import { describe, expect, it } from "vitest";
import { backoffDelay, MAX_TIMER_MS, retryAfterMs, timerDelay } from "../../sdk/src/backoff";
import { Callgate, type RetryInfo } from "../../sdk/src/client";
import { RateLimitError } from "../../sdk/src/errors";
import { DEFAULT_MAX_RETRY_AFTER_MS, DEFAULT_RETRY, retryDecision } from "../../sdk/src/retry";

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
	new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

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

describe("long Retry-After", () => {
	it("a wait beyond maxRetryAfterMs (5 minutes by default) is not taken: 429, 409 in flight and 5xx go to the caller", () => {
		expect(DEFAULT_RETRY.maxRetryAfterMs).toBe(DEFAULT_MAX_RETRY_AFTER_MS);
		const context = { attempt: 0, repeatable: true };
		expect(retryDecision({ status: 429, retryAfterMs: 300_000 }, context)).toMatchObject({ retry: true, delayMs: 300_000 });
		expect(retryDecision({ status: 429, retryAfterMs: 300_001 }, context)).toEqual({ retry: false });
		expect(retryDecision({ status: 409, retryAfterMs: 2_500_000_000 }, context)).toEqual({ retry: false });
		expect(retryDecision({ status: 503, retryAfterMs: 86_400_000 }, context)).toEqual({ retry: false });
		expect(retryDecision({ status: 429, retryAfterMs: 60_000 }, context, { ...DEFAULT_RETRY, maxRetryAfterMs: 10_000 })).toEqual({
			retry: false,
		});
	});

	it("no timer is ever asked for more than setTimeout takes (2^31-1 ms), which it would fire at once", () => {
		expect(MAX_TIMER_MS).toBe(2_147_483_647);
		expect(timerDelay(2_500_000_000)).toBe(MAX_TIMER_MS);
		expect(timerDelay(-5)).toBe(0);
		expect(timerDelay(1_500)).toBe(1_500);
	});

	it("a 429 asking for 29 days is a RateLimitError at once, after one request", async () => {
		let requests = 0;
		const fetch = (async () => {
			requests++;
			return json(429, { message: "Too many requests." }, { "Retry-After": "2500000" });
		}) as typeof globalThis.fetch;
		const client = new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch });
		await expect(client.get("/api/pbx/users")).rejects.toBeInstanceOf(RateLimitError);
		expect(requests).toBe(1);
	});

	it("a Retry-After date is read against the client's clock (the now option), not Date.now()", async () => {
		const clock = Date.parse("2000-01-01T00:00:00Z");
		const fetch = (async () =>
			json(
				429,
				{ message: "Too many requests." },
				{ "Retry-After": "Sat, 01 Jan 2000 00:00:03 GMT" },
			)) as typeof globalThis.fetch;
		const stop = new AbortController();
		const retries: RetryInfo[] = [];
		const client = new Callgate({
			baseUrl: "http://callgate.test",
			token: "t",
			fetch,
			now: () => clock,
			onRetry: (retry) => {
				retries.push(retry);
				stop.abort();
			},
		});
		await expect(client.get("/api/pbx/users", { signal: stop.signal })).rejects.toBeDefined();
		expect(retries[0]?.delayMs).toBe(3_000);
	});
});
