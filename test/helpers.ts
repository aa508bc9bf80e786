import { exports } from "cloudflare:workers";
import { afterAll } from "vitest";
import { OpenApiResponseValidator } from "./support/openapi-validator";

export const BASE = "http://callgate.test";

export interface CallOptions {
	method?: string;
	token?: string;
	body?: unknown;
	rawBody?: BodyInit;
	headers?: Record<string, string>;
	/**
	 * Why this response may break /openapi.json (a test that provokes an undocumented answer on
	 * purpose); without it every response is checked against the document.
	 */
	unvalidated?: string;
}

/** Calls the Worker's own fetch handler, as a client over HTTP would, and checks the answer against /openapi.json. */
export async function call(path: string, options: CallOptions = {}): Promise<Response> {
	const headers = new Headers(options.headers);
	if (options.token) headers.set("Authorization", `Bearer ${options.token}`);
	let body = options.rawBody;
	if (options.body !== undefined) {
		headers.set("Content-Type", "application/json");
		body = JSON.stringify(options.body);
	}
	const method = options.method ?? (body ? "POST" : "GET");
	const response = await exports.default.fetch(new Request(`${BASE}${path}`, { method, headers, body }));
	if (options.unvalidated === undefined) await checkAgainstDocument(method, path, response);
	return response;
}

let validator: Promise<OpenApiResponseValidator> | undefined;
let validated = 0;

/** How many responses this test file has checked against /openapi.json so far. */
export const validatedResponses = () => validated;

/** Fetched once per test file, through the Worker, like any client would. */
function documentValidator(): Promise<OpenApiResponseValidator> {
	validator ??= (async () => {
		const response = await exports.default.fetch(new Request(`${BASE}/openapi.json`));
		if (response.status !== 200) throw new Error(`GET /openapi.json: ${response.status}`);
		return new OpenApiResponseValidator(await response.json());
	})();
	return validator;
}

/** Throws (failing the test that received it) when the response breaks the document. */
async function checkAgainstDocument(method: string, path: string, response: Response): Promise<void> {
	const contentType = response.headers.get("Content-Type") ?? "";
	// A stream stays unread: the test reads it, and it may never end.
	const body = contentType.startsWith("text/event-stream") ? undefined : await response.clone().text();
	const problems = (await documentValidator()).check({
		method,
		path: new URL(`${BASE}${path}`).pathname,
		status: response.status,
		headers: response.headers,
		body,
	});
	validated++;
	if (problems.length) {
		throw new Error(
			`${method} ${path} → ${response.status} breaks /openapi.json:\n  ${problems.join("\n  ")}${body ? `\n  body: ${body.slice(0, 500)}` : ""}`,
		);
	}
}

afterAll(() => {
	if (validated) console.log(`openapi: ${validated} responses validated against /openapi.json`);
});

export async function callJson<T = Record<string, unknown>>(path: string, options: CallOptions = {}) {
	const response = await call(path, options);
	const text = await response.text();
	return { response, status: response.status, body: (text ? JSON.parse(text) : null) as T };
}

let counter = 0;
export const unique = (prefix: string) =>
	`${prefix}${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;

export async function adminToken(): Promise<string> {
	const { status, body } = await callJson<{ token: string }>("/api/auth/login", {
		body: { username: "admin", password: "admin-password" },
		headers: { "CF-Connecting-IP": unique("10.0.0.") },
	});
	if (status !== 200) throw new Error(`admin login failed: ${status}`);
	return body.token;
}

export interface TestAccount {
	id: string;
	username: string;
	password: string;
	token: string;
	adminToken: string;
}

/** A fresh customer account with its owner logged in; options go to POST /api/admin/accounts. */
export async function newAccount(options: Record<string, unknown> = {}): Promise<TestAccount> {
	const admin = await adminToken();
	const username = unique("user");
	const password = "correct horse battery";
	const created = await callJson<{ id: string }>("/api/admin/accounts", {
		token: admin,
		body: { name: `Account ${username}`, username, password, max_connections: 1000, ...options },
	});
	if (created.status !== 201) throw new Error(`account creation failed: ${created.status} ${JSON.stringify(created.body)}`);
	const login = await callJson<{ token: string }>("/api/auth/login", {
		body: { username, password },
		headers: { "CF-Connecting-IP": unique("10.1.0.") },
	});
	return { id: created.body.id, username, password, token: login.body.token, adminToken: admin };
}

export const burst = <T>(count: number, fn: (index: number) => Promise<T>) =>
	Promise.all(Array.from({ length: count }, (_, i) => fn(i)));

/** An account with generous limits (bursts measure the feature, not the guard) and one extension. */
export async function pbxAccount(options: Record<string, unknown> = {}) {
	const limits = {
		pbx: 10_000,
		"click-to-call": 10_000,
		telesales: 10_000,
		autocall: 10_000,
		integrations: 10_000,
		webhooks: 10_000,
	};
	const account = await newAccount({ default_region: "VN", rate_limits: limits, max_connections: 1000, ...options });
	const extension = await callJson("/api/pbx/extensions", {
		token: account.token,
		body: { extension: "1001", name: "Front desk" },
	});
	if (extension.status !== 201) throw new Error(`extension: ${extension.status} ${JSON.stringify(extension.body)}`);
	return account;
}

export async function countRows(table: string, where: string, ...binds: unknown[]): Promise<number> {
	const { env } = await import("cloudflare:workers");
	const row = await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${where}`)
		.bind(...binds)
		.first<{ n: number }>();
	return row?.n ?? 0;
}
