import { describe, expect, it } from "vitest";
import { isCacheable, isIdempotencyKey, newIdempotencyKey, operationName, takesIdempotencyKey } from "../../sdk/src/keys";
import { buildUrl } from "../../sdk/src/url";

describe("Idempotency-Keys", () => {
	it("are random UUID v4s, as the server requires", () => {
		const keys = new Set(Array.from({ length: 100 }, () => newIdempotencyKey()));
		expect(keys.size).toBe(100);
		for (const key of keys) expect(isIdempotencyKey(key)).toBe(true);
		expect(newIdempotencyKey((bytes) => bytes.fill(0xff))).toBe("ffffffff-ffff-4fff-bfff-ffffffffffff");
		expect(newIdempotencyKey((bytes) => bytes.fill(0))).toBe("00000000-0000-4000-8000-000000000000");
	});

	it("a UUID of another version, or anything else, is not one", () => {
		expect(isIdempotencyKey("a1b2c3d4-e5f6-7890-abcd-ef1234567890")).toBe(false);
		expect(isIdempotencyKey("not-a-key")).toBe(false);
	});

	it("which operations take one, and which lists are cacheable, come from /openapi.json", () => {
		expect(takesIdempotencyKey(operationName("post", "/api/pbx/calls/click-to-call"))).toBe(true);
		expect(takesIdempotencyKey("POST /api/telesales/campaigns/{id}/leads/bulk-import")).toBe(true);
		expect(takesIdempotencyKey("POST /api/autocall/campaigns/{id}/pause")).toBe(true);
		expect(takesIdempotencyKey("POST /api/pbx/extensions")).toBe(false);
		expect(takesIdempotencyKey("PATCH /api/telesales/leads/bulk")).toBe(false);
		expect(["GET /api/pbx/users", "GET /api/pbx/caller-ids", "GET /api/pbx/queues"].every(isCacheable)).toBe(true);
		expect(isCacheable("GET /api/pbx/extensions")).toBe(false);
	});
});

describe("buildUrl", () => {
	it("fills and encodes path parameters and appends the query", () => {
		expect(buildUrl("http://127.0.0.1:8787", "/api/pbx/extensions/{extension}", { extension: "10 01/x" }, undefined)).toBe(
			"http://127.0.0.1:8787/api/pbx/extensions/10%2001%2Fx",
		);
		expect(
			buildUrl(
				"http://h",
				"/api/telesales/campaigns/{id}/leads",
				{ id: "c1" },
				{ limit: 100, status: undefined, tag: ["a", "b"] },
			),
		).toBe("http://h/api/telesales/campaigns/c1/leads?limit=100&tag=a&tag=b");
	});

	it("keeps a base path prefix", () => {
		expect(buildUrl("https://gw.example/callgate/", "/api/pbx/users", undefined, undefined)).toBe(
			"https://gw.example/callgate/api/pbx/users",
		);
		expect(buildUrl("https://gw.example/callgate", "/health", undefined, undefined)).toBe("https://gw.example/callgate/health");
	});

	it("a missing path parameter is a TypeError, never a request to a wrong path", () => {
		expect(() => buildUrl("http://h", "/api/pbx/calls/{id}", {}, undefined)).toThrow(TypeError);
		expect(() => buildUrl("http://h", "/api/pbx/calls/{id}", { id: "" }, undefined)).toThrow(/"id"/);
	});
});
