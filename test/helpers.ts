import { exports } from "cloudflare:workers";

export const BASE = "http://callgate.test";

export interface CallOptions {
	method?: string;
	token?: string;
	body?: unknown;
	rawBody?: BodyInit;
	headers?: Record<string, string>;
}

/** Calls the Worker's own fetch handler, as a client over HTTP would. */
export function call(path: string, options: CallOptions = {}): Promise<Response> {
	const headers = new Headers(options.headers);
	if (options.token) headers.set("Authorization", `Bearer ${options.token}`);
	let body = options.rawBody;
	if (options.body !== undefined) {
		headers.set("Content-Type", "application/json");
		body = JSON.stringify(options.body);
	}
	return exports.default.fetch(
		new Request(`${BASE}${path}`, { method: options.method ?? (body ? "POST" : "GET"), headers, body }),
	);
}

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
