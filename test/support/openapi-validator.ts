import { dereference, type OutputUnit, type Schema, validate } from "@cfworker/json-schema";

/**
 * Checks a response against the OpenAPI document the Worker serves, with a JSON Schema
 * validator of its own (@cfworker/json-schema: no code generation, so it runs inside workerd)
 * rather than the zod schemas the document was generated from: a response that drifts from
 * what the document promises fails here even when zod and the handler agree with each other.
 */

type Json = Record<string, unknown>;

interface ResponseObject {
	description?: string;
	headers?: Record<string, Json>;
	content?: Record<string, { schema?: Json }>;
}

interface Operation {
	responses: Record<string, ResponseObject | { $ref: string }>;
}

interface PathEntry {
	template: string;
	pattern: RegExp;
	/** Literal segments win over parameters (`/leads/bulk` over `/leads/{id}`), as OpenAPI says. */
	literals: number;
	operations: Record<string, Operation>;
}

export interface ObservedResponse {
	method: string;
	/** The request's path, as sent (query string excluded). */
	path: string;
	status: number;
	headers: Headers;
	/** The body as text; undefined when it was not read (an event stream). */
	body: string | undefined;
}

const BASE = "https://callgate.test/openapi.json";
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** RFC 3986 normalisation: decode unreserved characters, drop one trailing slash. */
function normalisePath(path: string): string {
	const decoded = path.replace(/%[0-9A-Fa-f]{2}/g, (encoded) => {
		const char = String.fromCharCode(Number.parseInt(encoded.slice(1), 16));
		return UNRESERVED.test(char) ? char : encoded;
	});
	return decoded.length > 1 && decoded.endsWith("/") ? decoded.slice(0, -1) : decoded;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export class OpenApiResponseValidator {
	private readonly paths: PathEntry[];
	private readonly lookup: Record<string, Schema | boolean>;
	private readonly document: Json;

	constructor(document: Json) {
		// Dereferencing indexes every subschema by its URI, so a `$ref` to
		// `#/components/schemas/X` from any operation resolves into this one copy.
		this.document = { ...structuredClone(document), $id: BASE };
		this.lookup = dereference(this.document as Schema);
		const paths = (this.document.paths ?? {}) as Record<string, Record<string, Operation>>;
		this.paths = Object.entries(paths)
			.map(([template, item]) => {
				const segments = template.split("/").slice(1);
				const pattern = new RegExp(
					`^/${segments.map((segment) => (/^\{\w+\}$/.test(segment) ? "[^/]+" : escapeRegExp(segment))).join("/")}$`,
				);
				const operations = Object.fromEntries(Object.entries(item).filter(([method]) => METHODS.includes(method)));
				return { template, pattern, literals: segments.filter((s) => !s.startsWith("{")).length, operations };
			})
			.sort((a, b) => b.literals - a.literals);
	}

	/** Problems with this response, in words; empty when it is what the document promises. */
	check(observed: ObservedResponse): string[] {
		const { method, status } = observed;
		const path = normalisePath(observed.path);
		const entry = this.paths.find((candidate) => candidate.pattern.test(path));
		let where: string;
		let response: ResponseObject | { $ref: string } | undefined;
		if (!entry) {
			// No operation: the document says such a request is a 404 NotFound.
			where = "no documented path";
			response = status === 404 ? { $ref: "#/components/responses/NotFound" } : undefined;
		} else {
			const operation = entry.operations[method.toLowerCase()];
			if (!operation) {
				where = `${entry.template} has no ${method}`;
				response = status === 405 ? { $ref: "#/components/responses/MethodNotAllowed" } : undefined;
			} else {
				where = `${method} ${entry.template}`;
				response = operation.responses[String(status)] ?? operation.responses[`${Math.floor(status / 100)}XX`];
				response ??= operation.responses.default;
			}
		}
		if (!response) return [`status ${status} is not documented (${where})`];
		const resolved = this.resolve(response) as ResponseObject | undefined;
		if (!resolved) return [`unresolvable response ${JSON.stringify(response)} (${where})`];
		return [...this.checkHeaders(resolved, observed.headers), ...this.checkBody(resolved, observed)];
	}

	private checkHeaders(response: ResponseObject, headers: Headers): string[] {
		const problems: string[] = [];
		for (const [name, raw] of Object.entries(response.headers ?? {})) {
			const header = this.resolve(raw) as { required?: boolean; schema?: Json } | undefined;
			const value = headers.get(name);
			if (value === null) {
				if (header?.required) problems.push(`header ${name} is required and missing`);
				continue;
			}
			const schema = header?.schema;
			if (!schema) continue;
			// Header values are text; an integer header must be one written in digits.
			const typed =
				schema.type === "integer" || schema.type === "number" ? (/^-?\d+$/.test(value) ? Number(value) : value) : value;
			problems.push(...this.errorsOf(typed, schema).map((error) => `header ${name}: ${value}: ${error}`));
		}
		return problems;
	}

	private checkBody(response: ResponseObject, observed: ObservedResponse): string[] {
		const content = response.content;
		const contentType = observed.headers.get("Content-Type");
		if (!content || Object.keys(content).length === 0) {
			if (observed.body) return [`a body the document does not describe (${contentType}): ${observed.body.slice(0, 200)}`];
			return [];
		}
		const mediaType = contentType?.split(";")[0]?.trim().toLowerCase() ?? "";
		const media = content[mediaType];
		if (!media) return [`Content-Type ${contentType} is not one of ${Object.keys(content).join(", ")}`];
		if (observed.body === undefined || !media.schema) return [];
		let instance: unknown = observed.body;
		if (mediaType === "application/json" || mediaType.endsWith("+json")) {
			try {
				instance = JSON.parse(observed.body);
			} catch {
				return [`body is not JSON: ${observed.body.slice(0, 200)}`];
			}
		}
		return this.errorsOf(instance, media.schema).map((error) => `body ${error}`);
	}

	private errorsOf(instance: unknown, schema: Json): string[] {
		const result = validate(instance, schema as Schema, "2020-12", this.lookup, false);
		if (result.valid) return [];
		return summarise(result.errors);
	}

	/** Follows a `$ref` (to components.responses, components.headers) inside the document. */
	private resolve(value: unknown): Json | undefined {
		let current = value as Json | undefined;
		for (let hops = 0; current && typeof current.$ref === "string" && hops < 10; hops++) {
			const ref = current.$ref as string;
			if (!ref.startsWith("#/")) return undefined;
			current = ref
				.slice(2)
				.split("/")
				.map((token) => token.replaceAll("~1", "/").replaceAll("~0", "~"))
				.reduce<unknown>((node, token) => (node as Json | undefined)?.[token], this.document) as Json | undefined;
		}
		return current;
	}
}

/**
 * The validator reports every failing keyword up the tree; the innermost ones say what is
 * wrong (the `$ref`, `properties` and `anyOf` above them only say that something below was).
 */
function summarise(errors: OutputUnit[]): string[] {
	const wrappers = new Set(["$ref", "properties", "items", "allOf", "anyOf", "oneOf", "additionalProperties", "prefixItems"]);
	// `false` is the schema an undocumented property meets; its `additionalProperties` error names the property.
	const leaves = errors.filter(
		(error) => error.keyword !== "false" && (!wrappers.has(error.keyword) || error.keyword === "additionalProperties"),
	);
	const chosen = (leaves.length ? leaves : errors).map((error) => `at ${error.instanceLocation}: ${error.error}`);
	return [...new Set(chosen)].slice(0, 8);
}
