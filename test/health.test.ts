import { describe, expect, it } from "vitest";
import { callJson } from "./helpers";

describe("GET /health", () => {
	it("answers without a token", async () => {
		const { status, body } = await callJson("/health");
		expect(status).toBe(200);
		expect(body).toEqual({ status: "ok" });
	});
});
