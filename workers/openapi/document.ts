import { z } from "zod";
import { IDEMPOTENCY_HEADERS } from "../idempotency/keys";
import type { ResponseDoc, Route } from "../routing/route";
import { componentNames } from "./components";
import { type Json, reachableComponents, SchemaPass } from "./schemas";

/** Every error answer, whatever its status: `errorResponse` (workers/http/errors.ts) writes nothing else. */
export const ErrorBody = z
	.object({
		message: z.string(),
		errors: z.record(z.string(), z.array(z.string())).optional().describe("Field path → messages (422 only)"),
		existing_id: z.uuid().optional().describe("On a 409 for a duplicate: the resource that already exists"),
	})
	.meta({ id: "Error" });

interface HeaderDoc {
	description: string;
	schema: Json;
	/** Sent on every response that lists the header (a response that only sometimes sends it lists it as optional). */
	required?: true;
}

/**
 * The response headers, as components.headers. A response that lists one of the `required`
 * ones refers to it by `$ref` and so promises it; one that sends it only sometimes (a 409's
 * Retry-After) has an inline copy without `required`.
 */
const HEADER_DOCS: Record<string, HeaderDoc> = {
	"X-RateLimit-Limit": {
		description: "Requests allowed in the 60 s window for this token and group",
		schema: { type: "integer" },
		required: true,
	},
	"X-RateLimit-Remaining": { description: "Requests still allowed now", schema: { type: "integer" }, required: true },
	"X-RateLimit-Reset": {
		description: "UTC epoch seconds at which Remaining is back to Limit",
		schema: { type: "integer" },
		required: true,
	},
	"RateLimit-Policy": {
		description: 'IETF quota policy, e.g. `"pbx";q=60;w=60`',
		schema: { type: "string" },
		required: true,
	},
	RateLimit: { description: 'IETF remaining quota, e.g. `"pbx";r=42;t=18`', schema: { type: "string" }, required: true },
	"Retry-After": { description: "Whole seconds until a retry is admitted", schema: { type: "integer" }, required: true },
	ETag: {
		description: "Version of the resource (or list) for If-Match / If-None-Match",
		schema: { type: "string" },
		required: true,
	},
	"Cache-Control": { description: "How long the client may cache the list", schema: { type: "string" }, required: true },
	Location: { description: "URL of the created resource", schema: { type: "string" }, required: true },
	"Idempotent-Replayed": {
		description: "`true` on the cached response of an earlier request with the same key",
		schema: { type: "string" },
	},
	Allow: { description: "The methods this path answers", schema: { type: "string" }, required: true },
};

const REQUEST_HEADER_DOCS: Record<string, string> = {
	"Idempotency-Key": "UUID v4; a retry with the same key and body gets the first response instead of a second effect",
	"X-Idempotency-Key": "Alias of Idempotency-Key",
	"If-Match": "ETag from a GET: the write applies only if the resource is unchanged (else 412)",
	"If-None-Match": "ETag from a GET: 304 if unchanged",
	"Last-Event-ID": "The `id` of the last event this client received: the stream starts with the kept events after it",
	"X-Callgate-Signature": "`t=<unix>,v1=<hex HMAC-SHA256(secret, t.body)>` over the exact body",
};

const RATE_HEADERS = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit"];

/** Request headers that prove a signed inbound callback, whose body the handler reads itself. */
const SIGNATURE_HEADER = "X-Callgate-Signature";

interface ErrorResponse {
	name: string;
	description: string;
	/** Always sent with this status. */
	headers?: string[];
	/** Sent with some answers of this status only. */
	optionalHeaders?: string[];
}

/**
 * The error answers every operation shares, as components.responses. `NotFound` and
 * `MethodNotAllowed` also answer requests no operation matches: an unknown path is a 404, a
 * known path with another method a 405 with `Allow`.
 */
const ERROR_RESPONSES: Record<number, ErrorResponse> = {
	400: { name: "BadRequest", description: "Malformed JSON, a bad cursor or a bad Idempotency-Key" },
	401: { name: "Unauthorized", description: "Missing, invalid, expired or revoked token (or callback signature)" },
	403: { name: "Forbidden", description: "Not a platform admin" },
	404: { name: "NotFound", description: "No such route or resource (another account's ids included)" },
	405: { name: "MethodNotAllowed", description: "The path exists, the method does not", headers: ["Allow"] },
	409: {
		name: "Conflict",
		description:
			"The resource's state forbids it, or the first request with this Idempotency-Key is still in flight (then with Retry-After)",
		optionalHeaders: ["Retry-After"],
	},
	412: { name: "PreconditionFailed", description: "If-Match names a version that is no longer current: GET it again" },
	413: { name: "PayloadTooLarge", description: "Body over the size limit" },
	415: {
		name: "UnsupportedMediaType",
		description: "A Content-Type the operation does not take (it lists the ones it does), or a CSV body not in UTF-8",
	},
	422: {
		name: "ValidationFailed",
		description: "Validation failed (`errors` names each field), or the Idempotency-Key was used with a different body",
	},
	429: {
		name: "TooManyRequests",
		description: "Rate limit or connection cap reached",
		headers: ["Retry-After", ...RATE_HEADERS],
	},
	500: { name: "InternalError", description: "Internal error" },
};

/**
 * Errors a token-bearing request meets only after its token was admitted, so always with the
 * rate-limit headers: app.ts adds the admission's headers to whatever answer follows it. A 401
 * is decided before any bucket is counted, and a 500 may come from the admission itself. (A 429
 * is the admission's refusal: `TooManyRequests` has the headers already.)
 */
const ADMITTED_ERRORS = new Set([400, 403, 404, 409, 412, 413, 415, 422]);

/** The components.responses name of a shared error as a token-bearing operation answers it. */
const withRateLimit = (name: string) => `${name}WithRateLimit`;

const ref = (section: string, name: string) => ({ $ref: `#/components/${section}/${name}` });

/** A response's headers: the `required` ones by `$ref` where the component promises them, the rest inline. */
function headerObjects(required: readonly string[], optional: readonly string[]): Json {
	const inline = (name: string, isRequired: boolean) => {
		const { required: _, ...doc } = HEADER_DOCS[name] ?? { schema: { type: "string" } };
		return isRequired ? { ...doc, required: true } : doc;
	};
	return Object.fromEntries([
		...required.map((name) => [name, HEADER_DOCS[name]?.required ? ref("headers", name) : inline(name, true)]),
		...optional
			.filter((name) => !required.includes(name))
			.map((name) => [name, HEADER_DOCS[name] && !HEADER_DOCS[name].required ? ref("headers", name) : inline(name, false)]),
	]);
}

/** The statuses any request to this route can meet before or besides its handler's own answers. */
function commonStatuses(route: Route): Set<number> {
	const statuses = new Set([404, 500]);
	const add = (...more: number[]) => {
		for (const status of more) statuses.add(status);
	};
	if (route.body) add(400, 413, 422);
	if (route.csvBody) add(400, 413, 415, 422);
	// Query strings are validated, and a cursor this server did not issue is a 400.
	if (route.query) add(400, 422);
	if (route.headers?.includes(SIGNATURE_HEADER)) add(400, 401, 413, 422);
	if (route.access !== "public") add(401, 429);
	if (route.access === "platform-admin") add(403);
	if (route.idempotent) add(400, 409, 422);
	if (route.headers?.includes("If-Match")) add(412);
	return statuses;
}

class DocumentBuilder {
	readonly input: SchemaPass;
	readonly output: SchemaPass;
	/** The components.responses the operations refer to. */
	private readonly sharedResponses = new Set<string>(["NotFound", "MethodNotAllowed"]);

	constructor(private readonly routes: readonly Route[]) {
		const names = componentNames();
		this.input = new SchemaPass("input", names);
		this.output = new SchemaPass("output", names);
		for (const route of routes) {
			if (route.body) this.input.use(route.body);
			if (route.formBody) this.input.use(route.formBody);
			for (const schema of Object.values(queryShape(route))) this.input.use(schema);
			for (const doc of Object.values(route.responses)) if (doc.schema) this.output.use(doc.schema);
		}
		this.output.use(ErrorBody);
		this.input.run();
		this.output.run();
	}

	build(): Json {
		const paths: Record<string, Json> = {};
		for (const route of this.routes) {
			const path = openApiPath(route.path);
			paths[path] = { ...paths[path], [route.method.toLowerCase()]: this.operation(route) };
		}
		const tags = [...new Set(this.routes.flatMap((route) => route.tags))];
		const responses = this.errorResponses();
		return {
			openapi: "3.1.0",
			info: {
				title: "callgate API",
				version: "1.0.0",
				description:
					"The public API of an outbound calling platform. Every token-bearing request is rate limited per token and endpoint group (60 s sliding window) and counts against the token's concurrent-connection cap. Every error is an `Error` (`{message, errors?}`). A path no operation matches answers 404 (`NotFound`), a known path with another method 405 (`MethodNotAllowed`).",
			},
			servers: [{ url: "http://127.0.0.1:8787", description: "npm start" }],
			tags: tags.map((name) => ({ name, ...(TAG_DOCS[name] ? { description: TAG_DOCS[name] } : {}) })),
			paths,
			components: {
				schemas: reachableComponents([this.input, this.output]),
				responses,
				headers: HEADER_DOCS,
				parameters: Object.fromEntries(
					Object.entries(REQUEST_HEADER_DOCS).map(([name, description]) => [
						name,
						{ name, in: "header", required: false, description, schema: { type: "string" } },
					]),
				),
				securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
			},
		};
	}

	/**
	 * The shared errors the operations use (and the two that answer requests no operation
	 * matches), each also as `<Name>WithRateLimit`, the same error with the rate-limit headers
	 * a token-bearing request always gets once admitted.
	 */
	private errorResponses(): Json {
		return Object.fromEntries(
			Object.values(ERROR_RESPONSES).flatMap(({ name, description, headers = [], optionalHeaders = [] }) => {
				const plain = [name, this.response({ description, headers, schema: ErrorBody }, [], optionalHeaders)] as const;
				const limited = [
					withRateLimit(name),
					this.response({ description, headers, schema: ErrorBody }, RATE_HEADERS, optionalHeaders),
				] as const;
				return [plain, limited].filter(([shared]) => this.sharedResponses.has(shared));
			}),
		);
	}

	private response(doc: ResponseDoc, extraHeaders: readonly string[], optionalHeaders: readonly string[] = []): Json {
		const names = [...new Set([...(doc.headers ?? []), ...extraHeaders])];
		const optional = optionalHeaders.filter((name) => !names.includes(name));
		const mediaType = doc.mediaType ?? "application/json";
		const schema = doc.schema ? this.output.jsonFor(doc.schema) : doc.mediaType ? { type: "string" } : undefined;
		return {
			description: doc.description,
			...(names.length || optional.length ? { headers: headerObjects(names, optional) } : {}),
			...(schema ? { content: { [mediaType]: { schema } } } : {}),
		};
	}

	/** A shared error, by `$ref`; with the rate-limit headers when a token-bearing request always has them. */
	private sharedError(shared: ErrorResponse, status: number, guarded: boolean): Json {
		const name = guarded && ADMITTED_ERRORS.has(status) ? withRateLimit(shared.name) : shared.name;
		this.sharedResponses.add(name);
		return ref("responses", name);
	}

	private operation(route: Route): Json {
		const guarded = route.access !== "public";
		const responses: Record<string, Json> = {};
		const statuses = new Set([...commonStatuses(route), ...Object.keys(route.responses).map(Number)]);
		if (route.headers?.includes("If-None-Match")) statuses.add(304);
		for (const status of [...statuses].sort((a, b) => a - b)) {
			const own = route.responses[status];
			const shared = ERROR_RESPONSES[status];
			if (!own && shared) responses[status] = this.sharedError(shared, status, guarded);
			else if (status >= 400) {
				// A route's own wording for an error; the shape is still `Error`, the shared headers still come.
				responses[status] = this.response(
					{ schema: ErrorBody, ...own, description: own?.description ?? "" },
					[...(shared?.headers ?? []), ...(guarded && ADMITTED_ERRORS.has(status) ? RATE_HEADERS : [])],
					shared?.optionalHeaders,
				);
			} else {
				responses[status] = this.response(own ?? { description: "Not modified" }, [
					...(status === 304 ? ["ETag"] : []),
					...(guarded ? RATE_HEADERS : []),
				]);
			}
		}
		return {
			operationId: operationId(route),
			summary: route.summary,
			tags: route.tags,
			security: guarded ? [{ bearer: [] }] : [],
			parameters: this.parameters(route),
			...(route.body
				? {
						requestBody: {
							required: true,
							content: {
								"application/json": { schema: this.input.jsonFor(route.body) },
								...(route.csvBody ? { "text/csv": { schema: { type: "string", description: route.csvBody.description } } } : {}),
							},
						},
					}
				: {}),
			...(route.formBody
				? {
						requestBody: {
							required: true,
							content: { "application/x-www-form-urlencoded": { schema: this.input.jsonFor(route.formBody) } },
						},
					}
				: {}),
			responses,
		};
	}

	private parameters(route: Route): Json[] {
		const path = [...route.path.matchAll(/:(\w+)/g)].map(([, name]) => ({
			name,
			in: "path",
			required: true,
			schema: { type: "string" },
		}));
		const query = Object.entries(queryShape(route)).map(([name, schema]) => ({
			name,
			in: "query",
			required: !schema.safeParse(undefined).success,
			schema: this.input.jsonFor(schema),
		}));
		const headerNames = [...new Set([...(route.headers ?? []), ...(route.idempotent ? IDEMPOTENCY_HEADERS : [])])];
		const headers = headerNames.map((name) =>
			REQUEST_HEADER_DOCS[name] ? ref("parameters", name) : { name, in: "header", required: false, schema: { type: "string" } },
		);
		return [...path, ...query, ...headers];
	}
}

const TAG_DOCS: Record<string, string> = {
	meta: "This document and its rendering.",
	health: "Readiness.",
	auth: "Login, sessions and long-lived API tokens.",
	admin: "Customer accounts (platform admins only).",
	pbx: "Users, extensions, caller ids, queues, click-to-call and the live event stream.",
	telesales: "Telesales campaigns, their leads and call dispositions.",
	autocall: "Automatic outbound campaigns and their contact folders (also under /api/public/v1).",
	integrations: "SMS.",
	webhooks: "Outbound webhook endpoints, and the signed callbacks providers send in.",
	compliance: "The do-not-call list: numbers no campaign dials and no click-to-call reaches.",
};

function queryShape(route: Route): Record<string, z.ZodType> {
	return route.query instanceof z.ZodObject ? (route.query.shape as Record<string, z.ZodType>) : {};
}

const operationId = (route: Route) =>
	route.method.toLowerCase() +
	route.path.replace(/[^A-Za-z0-9]+(\w)?/g, (_, next: string | undefined) => (next ?? "").toUpperCase());

export const openApiPath = (path: string) => path.replace(/:(\w+)/g, "{$1}");

/**
 * OpenAPI 3.1, generated from the same route list and zod schemas that serve and validate.
 * Schemas named with `.meta({ id })` are components; operations refer to them by `$ref`.
 */
export function openApiDocument(routes: readonly Route[]): Json {
	return new DocumentBuilder(routes).build();
}
