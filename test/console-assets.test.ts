import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../workers/index";
import { call, callJson } from "./helpers";

/**
 * /console is the operations console's (static assets through the ASSETS binding); every other
 * path is the API's, exactly as before: an unknown /api path is still the JSON 404, whatever
 * the client accepts.
 */
describe("the console beside the API", () => {
	for (const path of [
		"/console",
		"/console/",
		"/console/campaigns/5b2e4b8e-3f0e-4f39-9c55-0d7f1c7a1f00",
		"/console/webhooks",
		"/console/webhooks/",
		"/console/campaigns/new",
		// A malformed escape is the app's to show as "not found": the Worker does not decode it.
		"/console/campaigns/%E0",
	]) {
		it(`${path} is the console's page, with its security headers`, async () => {
			const response = await call(path, { unvalidated: "not an API route: the console's HTML" });
			expect(response.status).toBe(200);
			expect(response.headers.get("Content-Type")).toMatch(/^text\/html/);
			expect(response.headers.get("Content-Security-Policy")).toContain("script-src 'self'");
			expect(response.headers.get("Content-Security-Policy")).toContain("frame-ancestors 'none'");
			expect(response.headers.get("Cache-Control")).toBe("no-cache");
			const html = await response.text();
			expect(html).toContain('<div id="app"></div>');
			// Bundled: the page loads its script and style from /console only, nothing from elsewhere.
			const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? "");
			expect(sources.filter((s) => s !== "data:,").every((s) => s.startsWith("/console/"))).toBe(true);
		});
	}

	it("serves the bundle it names, immutable, and 404s a file it does not have", async () => {
		const html = await (await call("/console", { unvalidated: "console HTML" })).text();
		const script = html.match(/src="(\/console\/app-[^"]+\.js)"/)?.[1];
		expect(script).toBeDefined();
		const bundle = await call(script ?? "", { unvalidated: "console script" });
		expect(bundle.status).toBe(200);
		expect(bundle.headers.get("Content-Type")).toMatch(/javascript/);
		expect(bundle.headers.get("Cache-Control")).toContain("immutable");
		const missing = await callJson("/console/app-NOTBUILT.js", { unvalidated: "not an API route" });
		expect(missing.status).toBe(404);
		expect(missing.body).toEqual({ message: "Route not found." });
	});

	for (const path of [
		"/console/api/auth/me",
		"/console/api/autocall/campaigns",
		"/console//api/x",
		"/console/campaigns/one/two",
		"/console/nope",
		"/console/webhooks//x",
	]) {
		it(`${path}, not a page of the app, is the API's JSON 404 (not its HTML with 200)`, async () => {
			const { status, body, response } = await callJson(path, {
				headers: { Accept: "text/html", "Sec-Fetch-Mode": "navigate" },
			});
			expect(status).toBe(404);
			expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
			expect(body).toEqual({ message: "Route not found." });
		});
	}

	it("takes only GET and HEAD", async () => {
		const { status, body, response } = await callJson("/console/campaigns", { method: "POST", unvalidated: "console" });
		expect(status).toBe(405);
		expect(response.headers.get("Allow")).toBe("GET, HEAD");
		expect(body).toHaveProperty("message");
	});

	for (const [path, accept] of [
		["/api/nope", "application/json"],
		["/api/nope", "text/html"],
		["/api/autocall/campaigns/x/y/z", "text/html"],
		["/", "text/html"],
		["/consoles", "text/html"],
		["/index.html", "text/html"],
	] as const) {
		it(`${path} (Accept: ${accept}) is still the API's JSON 404`, async () => {
			const { status, body, response } = await callJson(path, { headers: { Accept: accept, "Sec-Fetch-Mode": "navigate" } });
			expect(status).toBe(404);
			expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
			expect(body).toEqual({ message: "Route not found." });
		});
	}

	it("a deployment missing a setting still serves the console, whose API calls get the 503 that names it", async () => {
		const broken = { ...env, ENVIRONMENT: "production", DIALER_PROVIDER: "twilio", TWILIO_AUTH_TOKEN: "" } as Env;
		vi.spyOn(console, "error").mockImplementation(() => {});
		const page = await worker.fetch(new Request("https://api.callgate.example/console/limits"), broken, createExecutionContext());
		expect(page.status).toBe(200);
		const api = await worker.fetch(new Request("https://api.callgate.example/api/auth/me"), broken, createExecutionContext());
		expect(api.status).toBe(503);
		expect(((await api.json()) as { message: string }).message).toContain("TWILIO_AUTH_TOKEN");
		vi.restoreAllMocks();
	});
});
