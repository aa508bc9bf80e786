/**
 * GET /docs: the OpenAPI document rendered as one HTML page on the server, so the reference
 * needs nothing at view time (no script, no CDN, no font): its CSS is inline and the page's
 * Content-Security-Policy forbids loading anything else.
 */

type Json = Record<string, unknown>;

interface Operation {
	operationId: string;
	summary?: string;
	tags?: string[];
	security?: unknown[];
	parameters?: Json[];
	requestBody?: { content?: Record<string, { schema?: Json }> };
	responses?: Record<string, Json>;
}

const METHODS = ["get", "post", "put", "patch", "delete"];

export const DOCS_CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

const escapeHtml = (text: unknown) =>
	String(text).replace(
		/[&<>"']/g,
		(char) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[char] ?? char,
	);

/** Inline code spans (`x`) in descriptions, the only markup the document's prose uses. */
const prose = (text: unknown) => (text ? escapeHtml(text).replace(/`([^`]+)`/g, "<code>$1</code>") : "");

const slug = (text: string) => text.replace(/[^A-Za-z0-9_-]+/g, "-");

const refName = (ref: string) => ref.slice(ref.lastIndexOf("/") + 1);

class Renderer {
	private readonly components: { schemas: Record<string, Json>; responses: Record<string, Json>; headers: Record<string, Json> };

	constructor(private readonly document: Json) {
		const components = (document.components ?? {}) as Record<string, Record<string, Json>>;
		this.components = {
			schemas: components.schemas ?? {},
			responses: components.responses ?? {},
			headers: components.headers ?? {},
		};
	}

	page(): string {
		const info = (this.document.info ?? {}) as Json;
		const title = String(info.title ?? "API");
		const operations = this.operations();
		const tags = this.tags(operations);
		const nav = tags
			.map(
				({ name, items }) =>
					`<li><a href="#tag-${slug(name)}">${escapeHtml(name)}</a><ul>${items
						.map(
							({ method, path, operation }) =>
								`<li><a href="#op-${slug(operation.operationId)}"><span class="m ${method}">${method.toUpperCase()}</span> ${escapeHtml(path)}</a></li>`,
						)
						.join("")}</ul></li>`,
			)
			.join("");
		const sections = tags
			.map(
				({ name, description, items }) =>
					`<section class="tag" id="tag-${slug(name)}"><h2>${escapeHtml(name)}</h2>${description ? `<p>${prose(description)}</p>` : ""}${items
						.map((item) => this.operation(item.method, item.path, item.operation))
						.join("")}</section>`,
			)
			.join("");
		return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<nav><p class="brand"><a href="#top">${escapeHtml(title)}</a></p><ul>${nav}<li><a href="#conventions">Conventions</a></li><li><a href="#schemas">Schemas</a></li></ul></nav>
<main id="top">
<header><h1>${escapeHtml(title)}</h1><p class="version">version ${escapeHtml(info.version ?? "")} · OpenAPI ${escapeHtml(this.document.openapi ?? "")} · <a href="/openapi.json">/openapi.json</a></p><p>${prose(info.description)}</p>${this.servers()}</header>
${this.conventions()}
${sections}
${this.schemas()}
</main>
</body>
</html>`;
	}

	private servers(): string {
		const servers = (this.document.servers ?? []) as Json[];
		if (!servers.length) return "";
		return `<p>Servers: ${servers.map((server) => `<code>${escapeHtml(server.url)}</code> ${prose(server.description)}`).join(", ")}</p>`;
	}

	private operations() {
		const paths = (this.document.paths ?? {}) as Record<string, Record<string, Operation>>;
		return Object.entries(paths).flatMap(([path, item]) =>
			METHODS.filter((method) => item[method]).map((method) => ({ method, path, operation: item[method] as Operation })),
		);
	}

	private tags(operations: ReturnType<Renderer["operations"]>) {
		const declared = (this.document.tags ?? []) as { name: string; description?: string }[];
		const names = [...new Set([...declared.map((tag) => tag.name), ...operations.flatMap((op) => op.operation.tags ?? [])])];
		return names
			.map((name) => ({
				name,
				description: declared.find((tag) => tag.name === name)?.description,
				items: operations.filter((op) => (op.operation.tags ?? ["other"])[0] === name),
			}))
			.filter((tag) => tag.items.length);
	}

	private operation(method: string, path: string, operation: Operation): string {
		const secured = (operation.security ?? []).length > 0;
		const parameters = (operation.parameters ?? []).map((parameter) => this.resolve(parameter));
		// JSON, or the form-encoded body a carrier's callback sends.
		const [bodyType = "", bodyMedia] = Object.entries(operation.requestBody?.content ?? {})[0] ?? [];
		const body = bodyMedia?.schema;
		return `<article class="op" id="op-${slug(operation.operationId)}">
<h3><span class="m ${method}">${method.toUpperCase()}</span> <code class="path">${escapeHtml(path)}</code></h3>
<p>${prose(operation.summary)}</p>
<p class="meta">${secured ? '<span class="badge">Bearer token</span>' : '<span class="badge open">No token</span>'} <span class="opid">${escapeHtml(operation.operationId)}</span></p>
${
	parameters.length
		? `<h4>Parameters</h4><table><thead><tr><th>Name</th><th>In</th><th>Type</th><th>Description</th></tr></thead><tbody>${parameters
				.map(
					(parameter) =>
						`<tr><td><code>${escapeHtml(parameter.name)}</code>${parameter.required ? ' <span class="req">required</span>' : ""}</td><td>${escapeHtml(parameter.in)}</td><td>${this.type(parameter.schema as Json)}</td><td>${prose(parameter.description)}${this.constraints(parameter.schema as Json)}</td></tr>`,
				)
				.join("")}</tbody></table>`
		: ""
}
${body ? `<h4>Request body <span class="ct">${escapeHtml(bodyType)}</span></h4>${this.schemaBlock(body)}` : ""}
<h4>Responses</h4>
<table class="responses"><thead><tr><th>Status</th><th>Description</th><th>Body</th></tr></thead><tbody>${Object.entries(
			operation.responses ?? {},
		)
			.map(([status, raw]) => this.responseRow(status, raw))
			.join("")}</tbody></table>
</article>`;
	}

	private responseRow(status: string, raw: Json): string {
		const shared = typeof raw.$ref === "string" ? refName(raw.$ref) : undefined;
		const response = this.resolve(raw);
		const content = (response.content ?? {}) as Record<string, { schema?: Json }>;
		const bodies = Object.entries(content)
			.map(([type, media]) => `${media.schema ? this.type(media.schema) : ""} <span class="ct">${escapeHtml(type)}</span>`)
			.join("<br>");
		const headers = Object.keys((response.headers ?? {}) as Json);
		const described = `${prose(response.description)}${shared ? ` <a class="shared" href="#response-${slug(shared)}">${escapeHtml(shared)}</a>` : ""}`;
		return `<tr><td class="status s${status[0]}">${escapeHtml(status)}</td><td>${described}${
			headers.length
				? `<div class="headers">Headers: ${headers.map((name) => `<code>${escapeHtml(name)}</code>`).join(" ")}</div>`
				: ""
		}</td><td>${bodies}</td></tr>`;
	}

	private conventions(): string {
		const headers = Object.entries(this.components.headers)
			.map(
				([name, header]) =>
					`<tr><td><code>${escapeHtml(name)}</code></td><td>${this.type(header.schema as Json)}</td><td>${prose(header.description)}</td></tr>`,
			)
			.join("");
		const responses = Object.entries(this.components.responses)
			.map(([name, raw]) => {
				const status = this.statusOf(name);
				return `<tr id="response-${slug(name)}"><td class="status s${status[0]}">${escapeHtml(status)}</td><td><code>${escapeHtml(name)}</code></td><td>${prose(raw.description)}</td></tr>`;
			})
			.join("");
		const error = this.components.schemas.Error;
		return `<section id="conventions"><h2>Conventions</h2>
<h3>Errors</h3><p>Every error answer has one shape, <a href="#schema-Error"><code>Error</code></a>:</p>${error ? this.properties(error) : ""}
<table><thead><tr><th>Status</th><th>Response</th><th>When</th></tr></thead><tbody>${responses}</tbody></table>
<h3>Rate limits and response headers</h3><p>Token-bearing requests are counted per token and endpoint group in a 60 s sliding window; each answer carries the headers below, and a refused request gets 429 with <code>Retry-After</code>.</p>
<table><thead><tr><th>Header</th><th>Type</th><th>Meaning</th></tr></thead><tbody>${headers}</tbody></table>
</section>`;
	}

	/** The status a shared response is used for, read from the operations that use it. */
	private statusOf(name: string): string {
		for (const { operation } of this.operations()) {
			for (const [status, raw] of Object.entries(operation.responses ?? {})) {
				if (raw.$ref === `#/components/responses/${name}`) return status;
			}
		}
		return name === "MethodNotAllowed" ? "405" : "";
	}

	private schemas(): string {
		return `<section id="schemas"><h2>Schemas</h2>${Object.entries(this.components.schemas)
			.map(
				([name, schema]) =>
					`<article class="schema" id="schema-${slug(name)}"><h3>${escapeHtml(name)}</h3>${schema.description ? `<p>${prose(schema.description)}</p>` : ""}${this.schemaBlock(schema, false)}</article>`,
			)
			.join("")}</section>`;
	}

	/** A schema where it is used: its fields, under a link to its component when it has a name. */
	private schemaBlock(schema: Json, linkRefs = true): string {
		if (linkRefs && typeof schema.$ref === "string") {
			const target = this.components.schemas[refName(schema.$ref)];
			return `<p>${this.type(schema)}</p>${target ? this.schemaBlock(target, false) : ""}`;
		}
		if (schema.type === "object" && schema.properties) return this.properties(schema);
		return `<p>${this.type(schema)}${this.constraints(schema)}</p>`;
	}

	private properties(schema: Json, depth = 0): string {
		const properties = (schema.properties ?? {}) as Record<string, Json>;
		const required = new Set((schema.required ?? []) as string[]);
		const rows = Object.entries(properties)
			.map(([name, property]) => {
				const nested =
					depth < 3 && property.type === "object" && property.properties
						? this.properties(property, depth + 1)
						: depth < 3 && property.type === "array" && (property.items as Json | undefined)?.properties
							? this.properties(property.items as Json, depth + 1)
							: "";
				return `<tr><td><code>${escapeHtml(name)}</code>${required.has(name) ? ' <span class="req">required</span>' : ""}</td><td>${this.type(property)}</td><td>${prose(property.description)}${this.constraints(property)}${nested}</td></tr>`;
			})
			.join("");
		const closed = schema.additionalProperties === false ? "" : '<p class="note">Other properties allowed.</p>';
		return `<table class="props"><thead><tr><th>Field</th><th>Type</th><th>Description</th></tr></thead><tbody>${rows}</tbody></table>${depth === 0 && schema.additionalProperties !== false && schema.type === "object" ? closed : ""}`;
	}

	/** A one-line type: `string (uuid)`, `array of Extension`, `"a" | "b"`, `integer | null`. */
	private type(schema: Json | undefined): string {
		if (!schema) return "any";
		if (typeof schema.$ref === "string") {
			const name = refName(schema.$ref);
			return `<a class="type" href="#schema-${slug(name)}">${escapeHtml(name)}</a>`;
		}
		if (schema.const !== undefined) return `<code>${escapeHtml(JSON.stringify(schema.const))}</code>`;
		if (Array.isArray(schema.enum))
			return schema.enum.map((value) => `<code>${escapeHtml(JSON.stringify(value))}</code>`).join(" | ");
		for (const key of ["anyOf", "oneOf"]) {
			if (Array.isArray(schema[key])) return (schema[key] as Json[]).map((branch) => this.type(branch)).join(" | ");
		}
		if (Array.isArray(schema.allOf)) return (schema.allOf as Json[]).map((branch) => this.type(branch)).join(" &amp; ");
		const types = Array.isArray(schema.type) ? (schema.type as string[]) : schema.type ? [String(schema.type)] : [];
		if (!types.length) return "any";
		return types
			.map((type) => {
				if (type === "array") return `array of ${this.type(schema.items as Json | undefined)}`;
				if (type === "object" && schema.additionalProperties && typeof schema.additionalProperties === "object") {
					return `map of ${this.type(schema.additionalProperties as Json)}`;
				}
				return `${escapeHtml(type)}${schema.format ? ` <span class="fmt">(${escapeHtml(schema.format)})</span>` : ""}`;
			})
			.join(" | ");
	}

	private constraints(schema: Json | undefined): string {
		if (!schema) return "";
		const notes: string[] = [];
		const say = (key: string, label: string) => {
			if (schema[key] !== undefined) notes.push(`${label} ${escapeHtml(JSON.stringify(schema[key]))}`);
		};
		say("default", "default");
		say("minLength", "min length");
		say("maxLength", "max length");
		say("minimum", "≥");
		say("maximum", "≤");
		say("minItems", "min items");
		say("maxItems", "max items");
		if (typeof schema.pattern === "string" && schema.pattern.length <= 80)
			notes.push(`pattern <code>${escapeHtml(schema.pattern)}</code>`);
		return notes.length ? `<div class="constraints">${notes.join(" · ")}</div>` : "";
	}

	private resolve(value: Json): Json {
		let current = value;
		for (let hops = 0; typeof current.$ref === "string" && hops < 10; hops++) {
			const [, section, name] = /^#\/components\/(\w+)\/(.+)$/.exec(current.$ref) ?? [];
			const target =
				section && name ? (this.document.components as Record<string, Record<string, Json>>)?.[section]?.[name] : undefined;
			if (!target) break;
			current = target;
		}
		return current;
	}
}

export function renderDocs(document: Json): string {
	return new Renderer(document).page();
}

const CSS = `
:root{--fg:#1d2330;--muted:#5b6577;--line:#e3e7ee;--bg:#fff;--side:#f6f8fb;--accent:#2457c5}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);display:flex}
nav{position:sticky;top:0;height:100vh;overflow:auto;width:320px;flex:none;background:var(--side);border-right:1px solid var(--line);padding:16px;font-size:13px}
nav ul{list-style:none;margin:0;padding:0}nav li{margin:2px 0}nav ul ul{margin:4px 0 10px 6px}
nav a{color:var(--fg);text-decoration:none}nav a:hover{color:var(--accent)}
.brand{font-weight:700;font-size:16px;margin:0 0 12px}
main{flex:1;min-width:0;padding:24px 40px;max-width:1100px}
h1{margin:0 0 4px}h2{border-bottom:2px solid var(--line);padding-bottom:6px;margin-top:40px;text-transform:capitalize}
h3{margin:0 0 6px}h4{margin:16px 0 6px;font-size:14px}
.version{color:var(--muted);margin:0}
.op,.schema{border:1px solid var(--line);border-radius:8px;padding:16px 18px;margin:16px 0}
.m{display:inline-block;min-width:56px;text-align:center;font:700 12px/20px ui-monospace,monospace;border-radius:4px;color:#fff;padding:0 6px}
.get{background:#2f7d32}.post{background:#2457c5}.put{background:#a35a00}.patch{background:#7b4bb7}.delete{background:#b3261e}
nav .m{min-width:48px;font-size:10px;line-height:16px}
code{font:13px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f1f3f7;border-radius:3px;padding:0 3px}
.path{font-size:15px;background:none}
.meta{color:var(--muted);font-size:13px}.opid{font-family:ui-monospace,monospace}
.badge{background:#e8eefc;color:var(--accent);border-radius:10px;padding:1px 8px;font-size:12px}.badge.open{background:#e7f4e8;color:#2f7d32}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:14px}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:var(--muted)}
td table{margin:6px 0 0;font-size:13px}
.req{color:#b3261e;font-size:11px}
.ct,.fmt,.constraints,.headers,.note{color:var(--muted);font-size:12px}
.status{font:700 13px ui-monospace,monospace}.s2{color:#2f7d32}.s3{color:#a35a00}.s4{color:#b3261e}.s5{color:#7b1fa2}
a.type,a.shared{color:var(--accent)}
@media (max-width:900px){body{display:block}nav{position:static;width:auto;height:auto}main{padding:16px}}
`;
