import { describe, expect, it } from "vitest";
import { blockingHitIndex, retryAfterSeconds, windowStart, windowState } from "../../durable-objects/sliding-window";

const W = 60_000;

describe("sliding window", () => {
	it("a hit counts for exactly windowMs", () => {
		// A hit at 1000 is live while now - 1000 < W, i.e. up to now = 1000 + W - 1.
		expect(windowStart(1000 + W - 1, W)).toBe(1000);
		expect(windowStart(1000 + W, W)).toBe(1001);
	});

	it("remaining and reset of a partly used window", () => {
		expect(windowState(2, 2000, 5000, 3, W)).toEqual({ limit: 3, remaining: 1, resetAtMs: 2000 + W });
		expect(windowState(0, undefined, 5000, 3, W)).toEqual({ limit: 3, remaining: 3, resetAtMs: 5000 });
	});

	it("a full window admits again when its oldest blocking hit ages out", () => {
		expect(windowState(3, 3000, 5000, 3, W).remaining).toBe(0);
		expect(blockingHitIndex(3, 3)).toBe(0);
		expect(retryAfterSeconds(1000, 5000, W)).toBe(56);
	});

	it("retry-after rounds up and is never 0", () => {
		expect(retryAfterSeconds(1000, 1000 + W - 1, W)).toBe(1);
		expect(retryAfterSeconds(1000, 1000 + W, W)).toBe(1);
		expect(retryAfterSeconds(1000, 1500, W)).toBe(60);
	});

	it("a lowered limit waits for enough hits to age out", () => {
		// Four live hits, limit now 2: the third-oldest must expire first.
		expect(blockingHitIndex(4, 2)).toBe(2);
	});
});
