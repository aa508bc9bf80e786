import { describe, expect, it } from "vitest";
import { isAppRoute, match } from "../../console/src/routes";

describe("the console's routes", () => {
	it("are the app's pages, with or without a trailing slash", () => {
		for (const path of ["", "/", "/campaigns", "/campaigns/", "/campaigns/new", "/campaigns/abc", "/webhooks/x", "/limits"]) {
			expect(isAppRoute(path), path).toBe(true);
		}
	});

	it("are nothing else: an API path put under /console, an extra segment, an empty id", () => {
		for (const path of ["/api/auth/me", "//api/x", "/campaigns/a/b", "/nope", "/webhooks//x", "/campaignsx"]) {
			expect(isAppRoute(path), path).toBe(false);
		}
	});

	it("decode their params, and a malformed escape matches nothing instead of throwing", () => {
		expect(match("/campaigns/:id", "/campaigns/a%20b")).toEqual({ id: "a b" });
		expect(match("/campaigns/:id", "/campaigns/%E0")).toBeUndefined();
		expect(match("/campaigns/:id", "/calls")).toBeUndefined();
	});
});
