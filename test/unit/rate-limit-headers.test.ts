import { describe, expect, it } from "vitest";
import type { RateVerdict } from "../../durable-objects/token-guard";
import { rateLimitHeaders } from "../../workers/guard/rate-limit-headers";

const now = Date.UTC(2026, 0, 1, 12, 0, 0);
const verdict: RateVerdict = {
	group: "pbx",
	windowMs: 60_000,
	now,
	state: { limit: 60, remaining: 41, resetAtMs: now + 42_500 },
};

describe("rate-limit headers", () => {
	it("a token request advertises its group's window and the connection cap as a concurrency quota", () => {
		expect(rateLimitHeaders(verdict, 20)).toEqual({
			"X-RateLimit-Limit": "60",
			"X-RateLimit-Remaining": "41",
			"X-RateLimit-Reset": String(Math.ceil((now + 42_500) / 1000)),
			"RateLimit-Policy": '"pbx";q=60;w=60, "connections";q=20;qu="concurrent-requests"',
			RateLimit: '"pbx";r=41;t=43',
		});
	});

	it("without a connection cap (login attempts) only the window's policy is listed", () => {
		const headers = rateLimitHeaders({ ...verdict, group: "auth-login", state: { ...verdict.state, limit: 5 } });
		expect(headers["RateLimit-Policy"]).toBe('"auth-login";q=5;w=60');
	});
});
