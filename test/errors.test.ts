import { describe, expect, it } from "vitest";
import { call, callJson, newAccount } from "./helpers";

describe("one error shape", () => {
	it("unknown route → 404 with a message", async () => {
		const { status, body } = await callJson("/api/nope");
		expect(status).toBe(404);
		expect(body).toEqual({ message: "Route not found." });
	});

	it("wrong method on a known path → 405 with Allow", async () => {
		const response = await call("/health", { method: "DELETE" });
		expect(response.status).toBe(405);
		expect(response.headers.get("Allow")).toBe("GET");
		expect(await response.json()).toHaveProperty("message");
	});

	it("malformed JSON → 400, empty body → 400", async () => {
		const account = await newAccount();
		for (const rawBody of ['{"name": ', "", "not json"]) {
			const { status, body } = await callJson("/api/auth/tokens", {
				method: "POST",
				token: account.token,
				rawBody,
				headers: { "Content-Type": "application/json" },
			});
			expect(status).toBe(400);
			expect(typeof (body as { message: unknown }).message).toBe("string");
		}
	});

	it("wrong types → 422 with field errors", async () => {
		const account = await newAccount();
		const { status, body } = await callJson<{ message: string; errors: Record<string, string[]> }>("/api/auth/tokens", {
			token: account.token,
			body: { name: 42, expires_in_days: "soon", extra: true },
		});
		expect(status).toBe(422);
		expect(body.message).toMatch(/invalid/i);
		expect(Object.keys(body.errors)).toEqual(expect.arrayContaining(["name", "expires_in_days"]));
	});

	it("a body over the limit → 413, whether or not Content-Length says so", async () => {
		const account = await newAccount();
		const huge = JSON.stringify({ name: "x".repeat(300 * 1024) });
		const declared = await callJson("/api/auth/tokens", { method: "POST", token: account.token, rawBody: huge });
		expect(declared.status).toBe(413);
		const stream = new ReadableStream({
			start(controller) {
				controller.enqueue(new TextEncoder().encode(huge));
				controller.close();
			},
		});
		const streamed = await callJson("/api/auth/tokens", { method: "POST", token: account.token, rawBody: stream });
		expect(streamed.status).toBe(413);
		expect(streamed.body).toHaveProperty("message");
	});

	it("bad input leaves nothing behind", async () => {
		const account = await newAccount();
		await callJson("/api/auth/tokens", { token: account.token, body: { name: "" } });
		const list = await callJson<{ data: unknown[] }>("/api/auth/tokens", { token: account.token });
		expect(list.body.data).toHaveLength(0);
	});
});
