import { z } from "zod";
import { IDEMPOTENCY_HEADERS } from "../idempotency/keys";
import type { ResponseDoc, Route } from "../routing/route";

type Json = Record<string, unknown>;

const ErrorBody = z.object({
	message: z.string(),
	errors: z.record(z.string(), z.array(z.string())).optional().describe("Field path → messages (422 only)"),
});

const HEADER_DOCS: Record<string, { description: string; schema: Json }> = {
	"X-RateLimit-Limit": {
		description: "Requests allowed in the 60 s window for this token and group",
		schema: { type: "integer" },
	},
	"X-RateLimit-Remaining": { description: "Requests still allowed now", schema: { type: "integer" } },
	"X-RateLimit-Reset": { description: "UTC epoch seconds at which Remaining is back to Limit", schema: { type: "integer" } },
	"RateLimit-Policy": { description: 'IETF quota policy, e.g. `"pbx";q=60;w=60`', schema: { type: "string" } },
	RateLimit: { description: 'IETF remaining quota, e.g. `"pbx";r=42;t=18`', schema: { type: "string" } },
	"Retry-After": { description: "Whole seconds until a retry is admitted", schema: { type: "integer" } },
	ETag: { description: "Version of the resource (or list) for If-Match / If-None-Match", schema: { type: "string" } },
	"Cache-Control": { description: "How long the client may cache the list", schema: { type: "string" } },
	Location: { description: "URL of the created resource", schema: { type: "string" } },
	"Idempotent-Replayed": {
		description: "`true` on the cached response of an earlier request with the same key",
		schema: { type: "string" },
	},
};

const REQUEST_HEADER_DOCS: Record<string, string> = {
	"Idempotency-Key": "UUID v4; a retry with the same key and body gets the first response instead of a second effect",
	"X-Idempotency-Key": "Alias of Idempotency-Key",
	"If-Match": "ETag from a GET: the write applies only if the resource is unchanged (else 412)",
	"If-None-Match": "ETag from a GET: 304 if unchanged",
};

const RATE_HEADERS = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit"];

const jsonSchema = (schema: z.ZodType, io: "input" | "output") =>
	z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" });

function response(doc: ResponseDoc, guarded: boolean): Json {
	const names = [...(doc.headers ?? []), ...(guarded ? RATE_HEADERS : [])];
	return {
		description: doc.description,
		...(names.length
			? { headers: Object.fromEntries(names.map((name) => [name, HEADER_DOCS[name] ?? { schema: { type: "string" } }])) }
			: {}),
		...(doc.schema ? { content: { "application/json": { schema: jsonSchema(doc.schema, "output") } } } : {}),
	};
}

function errorResponses(route: Route): Record<string, ResponseDoc> {
	const errors: Record<string, ResponseDoc> = {
		404: { description: "No such route or resource (another account's ids included)" },
		500: { description: "Internal error" },
	};
	if (route.body) {
		errors[400] = { description: "Malformed JSON or a bad Idempotency-Key" };
		errors[413] = { description: "Body over the size limit" };
	}
	if (route.body || route.query) errors[422] = { description: "Validation failed: `errors` names each field" };
	if (route.access !== "public") {
		errors[401] = { description: "Missing, invalid, expired or revoked token" };
		errors[429] = { description: "Rate limit or connection cap reached", headers: ["Retry-After"] };
	}
	if (route.access === "platform-admin") errors[403] = { description: "Not a platform admin" };
	if (route.idempotent) {
		errors[409] = { description: "The first request with this Idempotency-Key is still in flight", headers: ["Retry-After"] };
		errors[422] = { description: "Validation failed, or the Idempotency-Key was used with a different body" };
	}
	return Object.fromEntries(Object.entries(errors).map(([status, doc]) => [status, { ...doc, schema: ErrorBody }]));
}

function parameters(route: Route): Json[] {
	const path = [...route.path.matchAll(/:(\w+)/g)].map(([, name]) => ({
		name,
		in: "path",
		required: true,
		schema: { type: "string" },
	}));
	const query =
		route.query instanceof z.ZodObject
			? Object.entries(route.query.shape as Record<string, z.ZodType>).map(([name, schema]) => ({
					name,
					in: "query",
					required: !schema.safeParse(undefined).success,
					schema: jsonSchema(schema, "input"),
				}))
			: [];
	const headerNames = [...(route.headers ?? []), ...(route.idempotent ? IDEMPOTENCY_HEADERS : [])];
	const headers = headerNames.map((name) => ({
		name,
		in: "header",
		required: false,
		description: REQUEST_HEADER_DOCS[name],
		schema: { type: "string" },
	}));
	return [...path, ...query, ...headers];
}

const operationId = (route: Route) =>
	route.method.toLowerCase() +
	route.path.replace(/[^A-Za-z0-9]+(\w)?/g, (_, next: string | undefined) => (next ?? "").toUpperCase());

function operation(route: Route): Json {
	const guarded = route.access !== "public";
	const responses: Record<string, ResponseDoc> = { ...errorResponses(route), ...route.responses };
	return {
		operationId: operationId(route),
		summary: route.summary,
		tags: route.tags,
		security: guarded ? [{ bearer: [] }] : [],
		parameters: parameters(route),
		...(route.body
			? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(route.body, "input") } } } }
			: {}),
		responses: Object.fromEntries(Object.entries(responses).map(([status, doc]) => [status, response(doc, guarded)])),
	};
}

export const openApiPath = (path: string) => path.replace(/:(\w+)/g, "{$1}");

/** OpenAPI 3.1, generated from the same route list and zod schemas that serve and validate. */
export function openApiDocument(routes: readonly Route[]): Json {
	const paths: Record<string, Json> = {};
	for (const route of routes) {
		const path = openApiPath(route.path);
		paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation(route) };
	}
	return {
		openapi: "3.1.0",
		info: {
			title: "callgate",
			version: "1.0.0",
			description:
				"The public API of an outbound calling platform. Every token-bearing request is rate limited per token and endpoint group (60 s sliding window) and counts against the token's concurrent-connection cap.",
		},
		servers: [{ url: "http://127.0.0.1:8787", description: "npm start" }],
		components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
		paths,
	};
}
