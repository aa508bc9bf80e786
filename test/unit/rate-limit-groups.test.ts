import { describe, expect, it } from "vitest";
import { limitFor, rateLimitGroupFor } from "../../workers/guard/rate-limit-groups";

describe("rate-limit groups", () => {
	it.each([
		["POST", "/api/pbx/calls/click-to-call", "click-to-call"],
		["GET", "/api/pbx/calls/click-to-call", "pbx"],
		["GET", "/api/pbx/extensions", "pbx"],
		["POST", "/api/telesales/campaigns", "telesales"],
		["GET", "/api/autocall/campaigns", "autocall"],
		["POST", "/api/public/v1/batch-calls", "autocall"],
		["POST", "/api/auth/login", "auth-login"],
		["GET", "/api/auth/me", "auth"],
		["POST", "/api/integrations/sms", "integrations"],
		["GET", "/api/webhooks/endpoints", "webhooks"],
		["PATCH", "/api/admin/accounts/x", "admin"],
	])("%s %s → %s", (method, path, group) => {
		expect(rateLimitGroupFor(method, path)).toBe(group);
	});

	it("no group outside /api", () => {
		expect(rateLimitGroupFor("GET", "/health")).toBeUndefined();
	});

	it("overrides replace the default of their group only", () => {
		expect(limitFor("pbx", { pbx: 600 })).toBe(600);
		expect(limitFor("telesales", { pbx: 600 })).toBe(120);
	});
});
