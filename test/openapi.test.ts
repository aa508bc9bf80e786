import { describe, expect, it } from "vitest";
import { openApiPath } from "../workers/openapi/document";
import { routes } from "../workers/routes";
import { callJson } from "./helpers";

interface Document {
	openapi: string;
	paths: Record<
		string,
		Record<string, { parameters: { name: string; in: string }[]; responses: Record<string, unknown>; requestBody?: unknown }>
	>;
}

describe("GET /openapi.json", () => {
	it("describes every registered route, with its headers and error responses", async () => {
		const { status, body } = await callJson<Document>("/openapi.json");
		expect(status).toBe(200);
		expect(body.openapi).toBe("3.1.0");
		for (const route of routes) {
			const operation = body.paths[openApiPath(route.path)]?.[route.method.toLowerCase()];
			expect(operation, `${route.method} ${route.path}`).toBeDefined();
			if (!operation) continue;
			const statuses = Object.keys(operation.responses);
			if (route.access !== "public") expect(statuses).toEqual(expect.arrayContaining(["401", "429"]));
			if (route.body) {
				expect(operation.requestBody).toBeDefined();
				expect(statuses).toEqual(expect.arrayContaining(["400", "413", "422"]));
			}
			if (route.idempotent) {
				const headers = operation.parameters.filter((p) => p.in === "header").map((p) => p.name);
				expect(headers).toEqual(expect.arrayContaining(["Idempotency-Key", "X-Idempotency-Key"]));
				expect(statuses).toContain("409");
			}
			for (const [, name] of route.path.matchAll(/:(\w+)/g)) {
				expect(operation.parameters.some((p) => p.in === "path" && p.name === name)).toBe(true);
			}
		}
	});

	it("the request schemas are the validating zod schemas", async () => {
		const { body } = await callJson<{
			paths: Record<
				string,
				Record<string, { requestBody: { content: { "application/json": { schema: { required: string[] } } } } }>
			>;
		}>("/openapi.json");
		const clickToCall = body.paths["/api/pbx/calls/click-to-call"]?.post?.requestBody.content["application/json"].schema;
		expect(clickToCall?.required).toEqual(["from_extension", "to_phone"]);
	});
});
