import { classifyDialResponse, type DialResult, transient } from "../../dialer/dial-result";
import { DIAL_TIMEOUT_MS } from "../../dialer/dialer";
import { parseRetryAfter } from "../../webhooks/backoff";

/**
 * Telnyx's REST API v2: JSON bodies, `Authorization: Bearer <API key>`, errors as
 * `{"errors": [{"code": "10016", "title": "...", "detail": "...", "source": {"pointer": "/to"}}]}`.
 */

export const DEFAULT_TELNYX_API_BASE = "https://api.telnyx.com";
export const TELNYX_WEBHOOK_PATH = "/api/webhooks/telnyx";

export const apiBase = (env: Env) => (env.TELNYX_API_BASE || DEFAULT_TELNYX_API_BASE).replace(/\/+$/, "");
export const webhookUrl = (env: Env) => `${(env.PUBLIC_BASE_URL ?? "").replace(/\/+$/, "")}${TELNYX_WEBHOOK_PATH}`;

/** One request to the API; throws only when no answer came (network error, timeout). */
export function telnyxFetch(env: Env, method: "GET" | "POST", path: string, body?: unknown): Promise<Response> {
	return fetch(`${apiBase(env)}${path}`, {
		method,
		headers: {
			Authorization: `Bearer ${env.TELNYX_API_KEY ?? ""}`,
			Accept: "application/json",
			...(body === undefined ? {} : { "Content-Type": "application/json" }),
		},
		...(body === undefined ? {} : { body: JSON.stringify(body) }),
		redirect: "manual",
		signal: AbortSignal.timeout(DIAL_TIMEOUT_MS),
	});
}

const MAX_REASON = 200;

/** `Telnyx <code>: <title>: <detail>` from the first documented error, else the HTTP status. One line, bounded. */
export function telnyxReason(status: number, text: string): string {
	let reason = `Telnyx HTTP ${status}`;
	try {
		const parsed = JSON.parse(text) as { errors?: { code?: unknown; title?: unknown; detail?: unknown }[] };
		const error = Array.isArray(parsed?.errors) ? parsed.errors[0] : undefined;
		if (error) {
			const words = [error.title, error.detail].filter((part): part is string => typeof part === "string" && part !== "");
			const code = typeof error.code === "string" || typeof error.code === "number" ? String(error.code) : `HTTP ${status}`;
			reason = `Telnyx ${code}${words.length ? `: ${words.join(": ")}` : ""}`;
		}
	} catch {
		// Not Telnyx's JSON (a proxy's page): the status says enough.
	}
	const line = reason.replace(/\s+/g, " ").trim();
	return line.length > MAX_REASON ? `${line.slice(0, MAX_REASON - 1)}…` : line;
}

const CREDENTIAL_STATUSES = new Set([401, 403]);

/**
 * An answer classified by the failure rules: 2xx accepted; 408, 429, 5xx (and 1xx/3xx)
 * transient with Retry-After kept; 401 and 403 transient too (see below); any other 4xx
 * permanent with Telnyx's code and message.
 * Reads the body either way (the caller gets it back for the accepted case).
 */
export async function classifyTelnyx(response: Response): Promise<{ result: DialResult; text: string }> {
	const text = await response.text().catch(() => "");
	const retryAfter = parseRetryAfter(response.headers.get("Retry-After"), Date.now());
	const result = classifyDialResponse(response.status, text, retryAfter === undefined ? undefined : retryAfter * 1000);
	if (result.kind === "accepted") return { result, text };
	const reason = telnyxReason(response.status, text);
	// 401/403 are about callgate's API key or account, never the number: failing the attempt
	// would burn every contact of a campaign on a settings mistake. They wait like an outage.
	if (CREDENTIAL_STATUSES.has(response.status)) return { result: { kind: "transient", reason }, text };
	return { result: { ...result, reason }, text };
}

/** A request that threw: transient, and uncertain (Telnyx may have acted on it). */
export const thrown = (error: unknown): DialResult => transient(error);
