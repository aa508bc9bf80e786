import { describe, expect, it } from "vitest";
import {
	classifyDialResponse,
	MAX_PROVIDER_BACKOFF_MS,
	providerBackoffMs,
	providerReason,
	transient,
} from "../../workers/dialer/dial-result";

describe("classifyDialResponse", () => {
	it("2xx is accepted", () => {
		for (const status of [200, 201, 202, 204]) expect(classifyDialResponse(status, "")).toEqual({ kind: "accepted" });
	});

	it("408, 429 and 5xx are transient and carry Retry-After", () => {
		for (const status of [408, 429, 500, 502, 503, 504]) expect(classifyDialResponse(status, "").kind).toBe("transient");
		expect(classifyDialResponse(503, "", 7000)).toEqual({ kind: "transient", reason: "HTTP 503", retryAfterMs: 7000 });
	});

	it("every other 4xx is a permanent refusal with the provider's reason", () => {
		expect(classifyDialResponse(400, JSON.stringify({ message: "Invalid number" }))).toEqual({
			kind: "permanent",
			reason: "HTTP 400: Invalid number",
		});
		expect(classifyDialResponse(403, "forbidden\nnumber")).toEqual({ kind: "permanent", reason: "HTTP 403: forbidden number" });
		expect(classifyDialResponse(422, "")).toEqual({ kind: "permanent", reason: "HTTP 422" });
	});

	it("an unexpected status (3xx) does not burn the contact", () => {
		expect(classifyDialResponse(302, "").kind).toBe("transient");
	});

	it("a Retry-After beyond an hour is held to an hour", () => {
		expect(classifyDialResponse(429, "", 10 * 3_600_000)).toMatchObject({ retryAfterMs: 3_600_000 });
	});
});

describe("providerReason", () => {
	it("reads message, error or reason fields, and bounds the length", () => {
		expect(providerReason(400, JSON.stringify({ error: "bad to" }))).toBe("HTTP 400: bad to");
		expect(providerReason(400, JSON.stringify({ reason: "blocked" }))).toBe("HTTP 400: blocked");
		expect(providerReason(400, JSON.stringify({ code: 1 }))).toBe("HTTP 400");
		expect(providerReason(400, "x".repeat(1000)).length).toBeLessThanOrEqual(200);
	});
});

describe("transient", () => {
	it("names timeouts apart from unreachable providers, without internals", () => {
		const timeout = new Error("The operation was aborted due to timeout");
		timeout.name = "TimeoutError";
		expect(transient(timeout)).toEqual({ kind: "transient", reason: "The provider did not answer in time.", uncertain: true });
		expect(transient(new TypeError("connect ECONNREFUSED 10.0.0.1:443"))).toEqual({
			kind: "transient",
			reason: "The provider could not be reached.",
			uncertain: true,
		});
	});
});

describe("providerBackoffMs", () => {
	it("starts at 1 s and doubles, with ±20 % jitter, up to 5 minutes", () => {
		expect(providerBackoffMs(1, 0.5)).toBe(1000);
		expect(providerBackoffMs(2, 0.5)).toBe(2000);
		expect(providerBackoffMs(5, 0.5)).toBe(16_000);
		expect(providerBackoffMs(5, 0)).toBe(12_800);
		expect(providerBackoffMs(5, 1)).toBe(19_200);
		expect(providerBackoffMs(30, 1)).toBe(MAX_PROVIDER_BACKOFF_MS);
		expect(providerBackoffMs(1, 0)).toBe(1000);
	});

	it("is never sooner than the provider's Retry-After", () => {
		expect(providerBackoffMs(1, 0.5, 30_000)).toBe(30_000);
		expect(providerBackoffMs(20, 0.5, 600_000)).toBe(600_000);
	});
});
