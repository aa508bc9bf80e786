import { describe, expect, it } from "vitest";
import {
	AVAILABLE,
	afterAcceptance,
	afterRefusal,
	dialBudget,
	presentHealth,
} from "../../durable-objects/campaign/provider-health";

describe("provider health", () => {
	it("a first refusal opens an outage; later ones extend it with a growing backoff", () => {
		const first = afterRefusal(AVAILABLE, 1_000_000, "HTTP 503", 0.5);
		expect(first.began).toBe(true);
		expect(first.health).toEqual({
			state: "unavailable",
			since: 1_000_000,
			nextTryAt: 1_001_000,
			lastError: "HTTP 503",
			failures: 1,
		});
		const second = afterRefusal(first.health, 1_001_000, "HTTP 502", 0.5);
		expect(second.began).toBe(false);
		expect(second.health.since).toBe(1_000_000);
		expect(second.health.nextTryAt).toBe(1_003_000);
		expect(second.health.lastError).toBe("HTTP 502");
	});

	it("honours the provider's Retry-After", () => {
		expect(afterRefusal(AVAILABLE, 0, "HTTP 429", 0.5, 45_000).health.nextTryAt).toBe(45_000);
	});

	it("an acceptance ends the outage once", () => {
		const down = afterRefusal(AVAILABLE, 0, "HTTP 503", 0.5).health;
		expect(afterAcceptance(down)).toEqual({ health: AVAILABLE, recovered: true });
		expect(afterAcceptance(AVAILABLE)).toEqual({ health: AVAILABLE, recovered: false });
	});

	it("dials nothing while backing off, then one probe, then everything once available", () => {
		const down = afterRefusal(AVAILABLE, 0, "HTTP 503", 0.5).health;
		expect(dialBudget(down, 999, 5, 0)).toBe(0);
		expect(dialBudget(down, 1000, 5, 0)).toBe(1);
		expect(dialBudget(down, 1000, 5, 1)).toBe(0);
		expect(dialBudget(down, 1000, 0, 0)).toBe(0);
		expect(dialBudget(AVAILABLE, 0, 5, 3)).toBe(5);
	});

	it("presents ISO times", () => {
		const down = afterRefusal(AVAILABLE, Date.UTC(2030, 0, 1), "HTTP 503", 0.5).health;
		expect(presentHealth(down)).toEqual({
			state: "unavailable",
			since: "2030-01-01T00:00:00.000Z",
			next_try_at: "2030-01-01T00:00:01.000Z",
			last_error: "HTTP 503",
		});
		expect(presentHealth(AVAILABLE)).toEqual({ state: "available", since: null, next_try_at: null, last_error: null });
	});
});
