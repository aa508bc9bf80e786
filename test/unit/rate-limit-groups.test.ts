import { describe, expect, it } from "vitest";
import { limitFor, type RateLimitGroup, rateLimitGroupFor } from "../../workers/guard/rate-limit-groups";
import { routes } from "../../workers/routes";
import { route } from "../../workers/routing/route";
import { canonicalPath } from "../../workers/routing/router";

/** SPEC "Rate limits", restated independently of the implementation's prefix table. */
function specGroup(method: string, pattern: string): RateLimitGroup | undefined {
	if (method === "POST" && pattern === "/api/pbx/calls/click-to-call") return "click-to-call";
	const [, api, area, version] = pattern.split("/");
	if (api !== "api") return undefined;
	if (area === "public" && version === "v1") return "autocall";
	if (area === "auth") return pattern === "/api/auth/login" ? "auth-login" : "auth";
	// Not in the table yet: the account's own settings have a bucket of their own.
	if (area === "account") return "account";
	// Nor this one: the do-not-call list.
	if (area === "compliance") return "compliance";
	const byArea: Record<string, RateLimitGroup> = {
		pbx: "pbx",
		telesales: "telesales",
		autocall: "autocall",
		integrations: "integrations",
		webhooks: "webhooks",
		admin: "admin",
	};
	return area ? byArea[area] : undefined;
}

describe("rate-limit groups of declared route patterns", () => {
	it.each([
		["POST", "/api/pbx/calls/click-to-call", "click-to-call"],
		["GET", "/api/pbx/calls/:id", "pbx"],
		["GET", "/api/pbx/extensions/:extension", "pbx"],
		["POST", "/api/telesales/campaigns/:id/leads/bulk-import", "telesales"],
		["GET", "/api/autocall/campaigns", "autocall"],
		["POST", "/api/public/v1/batch-calls/:id/pause", "autocall"],
		["POST", "/api/auth/login", "auth-login"],
		["DELETE", "/api/auth/tokens/:id", "auth"],
		["GET", "/api/integrations/sms/:id", "integrations"],
		["POST", "/api/webhooks/endpoints/:id/events/:eventId/resend", "webhooks"],
		["PATCH", "/api/admin/accounts/:id", "admin"],
		["PATCH", "/api/account", "account"],
		["GET", "/api/account/contact-policy", "account"],
		["DELETE", "/api/compliance/dnc/:phone", "compliance"],
	])("%s %s → %s", (method, pattern, group) => {
		expect(rateLimitGroupFor(method, pattern)).toBe(group);
	});

	it("no group outside /api", () => {
		expect(rateLimitGroupFor("GET", "/health")).toBeUndefined();
		expect(rateLimitGroupFor("GET", "/openapi.json")).toBeUndefined();
		expect(rateLimitGroupFor("GET", "/api/accounts")).toBeUndefined();
	});

	it("every guarded route of the table carries the group the spec names for its declared path", () => {
		const guarded = routes.filter((r) => r.access !== "public");
		expect(guarded.length).toBeGreaterThan(60);
		for (const r of guarded) {
			expect({ route: `${r.method} ${r.path}`, group: r.group }).toEqual({
				route: `${r.method} ${r.path}`,
				group: specGroup(r.method, r.path),
			});
		}
		const clickToCall = guarded.filter((r) => r.group === "click-to-call");
		expect(clickToCall.map((r) => `${r.method} ${r.path}`)).toEqual(["POST /api/pbx/calls/click-to-call"]);
	});

	it("a guarded route outside every group is refused when it is built, not on its first request", () => {
		expect(() =>
			route({ method: "GET", path: "/api/elsewhere", summary: "", tags: [], responses: {}, handler: () => new Response() }),
		).toThrow("GET /api/elsewhere has no rate-limit group");
	});

	it("overrides replace the default of their group only", () => {
		expect(limitFor("pbx", { pbx: 600 })).toBe(600);
		expect(limitFor("telesales", { pbx: 600 })).toBe(120);
	});
});

describe("canonicalPath: which spellings of a path are routed", () => {
	it.each([
		["/api/pbx/calls/click-to-call", "/api/pbx/calls/click-to-call"],
		["/api/pbx/calls/click-to-call/", "/api/pbx/calls/click-to-call"],
		["/api/pbx/calls/click%2Dto%2Dcall", "/api/pbx/calls/click-to-call"],
		["/api/pbx/calls/click%2dto%2dcall", "/api/pbx/calls/click-to-call"],
		["/api/%70bx/calls/click-to-call/", "/api/pbx/calls/click-to-call"],
		["/api/telesales/leads/bul%6B", "/api/telesales/leads/bulk"],
		// Reserved characters stay encoded: `%2F` is not a segment separator.
		["/api/pbx/extensions/10%2F01", "/api/pbx/extensions/10%2F01"],
		["/", "/"],
	])("%s → %s", (pathname, canonical) => {
		expect(canonicalPath(pathname)).toBe(canonical);
	});

	it.each([
		"/api/pbx/calls/click-to-call//",
		"/api//pbx/calls/click-to-call",
		"//api/pbx/calls",
		"/api/pbx/%2E/calls",
		"/api/pbx/calls/%2e%2e/users",
	])("%s → not routed", (pathname) => {
		expect(canonicalPath(pathname)).toBeUndefined();
	});
});
