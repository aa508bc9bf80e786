import { z } from "zod";

export type Json = Record<string, unknown>;
export type Io = "input" | "output";

export const SCHEMA_REF = "#/components/schemas/";

/**
 * What `z.int()` states about itself: the safe-integer range. Said on every integer it would
 * be a quarter of the document and tell a client nothing.
 */
const SAFE_BOUNDS = { minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER } as const;

function dropSafeBounds({ jsonSchema }: { jsonSchema: Json }) {
	for (const [key, bound] of Object.entries(SAFE_BOUNDS)) if (jsonSchema[key] === bound) delete jsonSchema[key];
}

/**
 * Timestamps and ids, as zod writes them (a format and the pattern that enforces it), occur
 * hundreds of times: each is one component instead, which also tells a client generator that
 * they are one type.
 */
const SHARED_FORMATS: Record<string, Json> = {
	Timestamp: { ...clean(z.toJSONSchema(z.iso.datetime())), description: "ISO 8601, UTC" },
	Uuid: clean(z.toJSONSchema(z.uuid())),
};

function sharedFormat(schema: Json): Json | undefined {
	for (const [name, shared] of Object.entries(SHARED_FORMATS)) {
		const { format, pattern, ...rest } = schema;
		if (format === shared.format && pattern === shared.pattern && rest.type === "string") {
			const { type: _type, ...annotations } = rest;
			return { $ref: SCHEMA_REF + name, ...annotations };
		}
	}
	return undefined;
}

function clean(schema: Json): Json {
	const { $schema: _schema, $id: _id, ...rest } = schema;
	return rest;
}

/** Every `$ref` into components/schemas that `value` holds, by component name. */
export function referencedNames(value: unknown, into = new Set<string>()): Set<string> {
	if (Array.isArray(value)) for (const item of value) referencedNames(item, into);
	else if (value && typeof value === "object") {
		for (const [key, item] of Object.entries(value)) {
			if (key === "$ref" && typeof item === "string" && item.startsWith(SCHEMA_REF)) into.add(item.slice(SCHEMA_REF.length));
			else referencedNames(item, into);
		}
	}
	return into;
}

/**
 * One conversion of a set of zod schemas in one direction (`input`: what a request may send,
 * defaults optional; `output`: what a response holds). Named schemas (see components.ts)
 * become `$ref`s to `#/components/schemas/<name>` wherever they appear; the rest are inlined.
 */
export class SchemaPass {
	private readonly anonymous = new Map<z.ZodType, string>();
	/** What `jsonFor` handed out: where the document's `$ref`s in this direction start. */
	readonly emitted: Json[] = [];
	private converted?: { named: Record<string, Json>; inline: Map<z.ZodType, Json> };

	constructor(
		readonly io: Io,
		private readonly names: ReadonlyMap<z.ZodType, string>,
	) {}

	/** A schema the document uses directly (a body, a response, a query parameter): its JSON Schema, available after `run`. */
	use(schema: z.ZodType): void {
		if (!this.names.has(schema) && !this.anonymous.has(schema)) this.anonymous.set(schema, `~${this.anonymous.size}`);
	}

	run(): void {
		// One registry holds the named schemas and, under placeholder ids, the anonymous ones, so
		// that one pass turns every named subschema into a $ref wherever it appears.
		const registry = z.registry<{ id: string }>();
		for (const [schema, id] of this.names) registry.add(schema, { id });
		for (const [schema, id] of this.anonymous) registry.add(schema, { id });
		const { schemas } = z.toJSONSchema(registry, {
			io: this.io,
			unrepresentable: "any",
			target: "draft-2020-12",
			uri: (id) => SCHEMA_REF + id,
			override: dropSafeBounds,
		});
		if ("__shared" in schemas) throw new Error("A schema is recursive or shared without an id: name it with .meta({ id }).");
		const named: Record<string, Json> = {};
		const placeholders: Record<string, Json> = {};
		for (const [id, schema] of Object.entries(schemas)) (id.startsWith("~") ? placeholders : named)[id] = clean(schema as Json);
		// An anonymous schema nested in another is inlined where it appears: a placeholder id is no component.
		const inlinePlaceholders = (value: unknown): unknown => {
			if (Array.isArray(value)) return value.map(inlinePlaceholders);
			if (!value || typeof value !== "object") return value;
			const format = sharedFormat(value as Json);
			if (format) return format;
			const ref = (value as Json).$ref;
			if (typeof ref === "string" && ref.startsWith(`${SCHEMA_REF}~`)) {
				const { $ref: _ref, ...siblings } = value as Json;
				return { ...(inlinePlaceholders(placeholders[ref.slice(SCHEMA_REF.length)]) as Json), ...siblings };
			}
			return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, inlinePlaceholders(item)]));
		};
		this.converted = {
			named: { ...(inlinePlaceholders(named) as Record<string, Json>), ...SHARED_FORMATS },
			inline: new Map([...this.anonymous].map(([schema, id]) => [schema, inlinePlaceholders(placeholders[id]) as Json])),
		};
	}

	/** The JSON Schema to put where `schema` is used: a `$ref` when it is named. */
	jsonFor(schema: z.ZodType): Json {
		const id = this.names.get(schema);
		const json = id ? { $ref: SCHEMA_REF + id } : this.result().inline.get(schema);
		if (!json) throw new Error("Schema used before SchemaPass.use()");
		this.emitted.push(json);
		return json;
	}

	component(name: string): Json | undefined {
		return this.result().named[name];
	}

	private result() {
		if (!this.converted) throw new Error("SchemaPass.run() has not run");
		return this.converted;
	}
}

/**
 * The components the document's operations reach, following `$ref`s through components.
 * A name reached both as request and as response must read the same both ways, or a client
 * generated from it would get one type for two shapes.
 */
export function reachableComponents(passes: SchemaPass[]): Record<string, Json> {
	const components: Record<string, Json> = {};
	const seenAs = new Map<string, Io>();
	for (const pass of passes) {
		const queue = [...referencedNames(pass.emitted)];
		const visited = new Set<string>();
		for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
			if (visited.has(name)) continue;
			visited.add(name);
			const schema = pass.component(name);
			if (!schema) throw new Error(`$ref to unknown component ${name}`);
			const earlier = components[name];
			if (earlier && JSON.stringify(earlier) !== JSON.stringify(schema)) {
				throw new Error(
					`Component ${name} differs as ${seenAs.get(name)} and as ${pass.io}: give the request and the response schemas their own ids.`,
				);
			}
			components[name] = schema;
			seenAs.set(name, pass.io);
			queue.push(...referencedNames(schema));
		}
	}
	return Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b)));
}
