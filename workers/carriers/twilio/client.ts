import { classifyDialResponse, type DialResult, transient } from "../../dialer/dial-result";
import { DIAL_TIMEOUT_MS } from "../../dialer/dialer";
import { parseRetryAfter } from "../../webhooks/backoff";
import { oneLine } from "./status";

/** The Twilio settings callgate needs; each adapter asks for them when it is used. */
export interface TwilioConfig {
	accountSid: string;
	authToken: string;
	/** `https://api.twilio.com` in production; tests and local runs point it at a stand-in. */
	apiBase: string;
	/** Where Twilio reaches callgate's callbacks (PUBLIC_BASE_URL), without a trailing slash. */
	publicBase: string;
	/** MAX_CALL_SECONDS (default 900): when callgate closes a call with no final status as `timeout`. */
	maxCallSeconds: number;
}

/**
 * Twilio's settings, or an error naming what is missing: never a request signed with an empty
 * token. (The start-up check refuses to serve such a deploy; this guards the adapter itself.)
 */
export function twilioConfig(env: Env): TwilioConfig {
	const missing = (["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL"] as const).filter((name) => !env[name]);
	if (missing.length) throw new Error(`Twilio is not configured: ${missing.join(", ")} missing.`);
	return {
		accountSid: env.TWILIO_ACCOUNT_SID as string,
		authToken: env.TWILIO_AUTH_TOKEN as string,
		apiBase: (env.TWILIO_API_BASE || "https://api.twilio.com").replace(/\/+$/, ""),
		publicBase: (env.PUBLIC_BASE_URL as string).replace(/\/+$/, ""),
		maxCallSeconds: maxCallSeconds(env),
	};
}

const DEFAULT_MAX_CALL_SECONDS = 900;

/** MAX_CALL_SECONDS as a positive whole number of seconds; the default (900) when unset or unreadable. */
function maxCallSeconds(env: Env): number {
	const value = Number(env.MAX_CALL_SECONDS || DEFAULT_MAX_CALL_SECONDS);
	return Number.isFinite(value) && value > 0 ? Math.floor(value) : DEFAULT_MAX_CALL_SECONDS;
}

/**
 * Twilio's connection overrides (docs/usage/webhooks/webhooks-connection-overrides), added to
 * every callback URL callgate gives Twilio as a fragment: retry up to 3 times on a refused or
 * timed-out connection, a read timeout, or a 5xx. Callgate answers 5xx when a callback's
 * effect did not commit, so this redelivery is what applies it. A fragment never reaches
 * callgate (HTTP does not send it); the signature is checked with and without it.
 */
export const CONNECTION_OVERRIDES = "#rc=3&rp=ct,rt,5xx";

/** `PUBLIC_BASE_URL` + path + query, as callgate gives it to Twilio (the overrides are added separately). */
export function callbackUrl(config: TwilioConfig, path: string, query: Record<string, string>): string {
	return `${config.publicBase}${path}?${new URLSearchParams(query).toString()}`;
}

/** The API's own path prefix for the account: `/2010-04-01/Accounts/{sid}`. */
export const accountPath = (config: TwilioConfig) => `/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}`;

const basicAuth = (config: TwilioConfig) => `Basic ${btoa(`${config.accountSid}:${config.authToken}`)}`;

/** A request to Twilio's REST API: HTTP basic auth (AccountSid:AuthToken), form-encoded POST bodies, JSON back. */
export async function twilioFetch(
	config: TwilioConfig,
	method: "GET" | "POST",
	path: string,
	params: URLSearchParams,
): Promise<Response> {
	const url = `${config.apiBase}${accountPath(config)}${path}${method === "GET" ? `?${params.toString()}` : ""}`;
	return fetch(url, {
		method,
		headers: {
			Authorization: basicAuth(config),
			Accept: "application/json",
			...(method === "POST" ? { "Content-Type": "application/x-www-form-urlencoded" } : {}),
		},
		body: method === "POST" ? params.toString() : undefined,
		redirect: "manual",
		signal: AbortSignal.timeout(DIAL_TIMEOUT_MS),
	});
}

/**
 * Twilio's error body (`{"code": 21211, "message": "...", "more_info": "...", "status": 400}`)
 * as a reason: `Twilio 21211: The 'To' number ... is not a valid phone number.`
 */
export function twilioReason(status: number, body: string): string {
	try {
		const parsed = JSON.parse(body) as { code?: unknown; message?: unknown };
		const message = typeof parsed.message === "string" ? parsed.message : "";
		const code = typeof parsed.code === "number" || typeof parsed.code === "string" ? String(parsed.code) : "";
		if (code || message) return oneLine(`Twilio ${code || `HTTP ${status}`}${message ? `: ${message}` : ""}`);
	} catch {
		// Not Twilio's JSON (a proxy's page, say): the status says enough.
	}
	return `Twilio HTTP ${status}`;
}

/**
 * Twilio's error codes that blame the `From` number on the Twilio account, not the number
 * called: 21210 (the caller id is not a verified caller id or a Twilio number of the account)
 * and 21212 (not a valid caller id). Every call from that caller id would be refused alike
 * until someone registers or fixes it, so they wait like an outage instead of failing each
 * contact they meet.
 */
const CALLER_ID_CODES = new Set(["21210", "21212"]);

/** Twilio's error code in an error body, as text (`""` when there is none). */
function twilioCode(body: string): string {
	try {
		const code = (JSON.parse(body) as { code?: unknown }).code;
		return typeof code === "number" || typeof code === "string" ? String(code) : "";
	} catch {
		return "";
	}
}

/**
 * What a create request's answer means for callgate: 2xx accepted (with Twilio's sid); a
 * network error, a timeout, 408, 429 and 5xx transient (Retry-After kept); 401/403/404 and
 * the caller-id errors 21210/21212 transient too (callgate's configuration, not the number);
 * any other 4xx a permanent refusal with Twilio's code and message.
 */
export async function classifyCreate(request: () => Promise<Response>): Promise<DialResult> {
	let response: Response;
	try {
		response = await request();
	} catch (error) {
		return transient(error);
	}
	const text = await response.text().catch(() => "");
	if (response.status >= 200 && response.status < 300) {
		let sid: unknown;
		try {
			sid = (JSON.parse(text) as { sid?: unknown }).sid;
		} catch {
			// Accepted all the same: the callbacks carry the sid.
		}
		return typeof sid === "string" && sid ? { kind: "accepted", providerCallId: sid } : { kind: "accepted" };
	}
	const retryAfter = parseRetryAfter(response.headers.get("Retry-After"), Date.now());
	const retryAfterMs = retryAfter === undefined ? undefined : retryAfter * 1000;
	const reason = twilioReason(response.status, text);
	// Twilio refusing callgate itself (bad credentials, a suspended or unpermitted account, an
	// unknown account SID) says nothing of the number: transient, so a misconfiguration waits like
	// an outage (and shows as the provider's last_error) instead of failing every contact it meets.
	if (response.status === 401 || response.status === 403 || response.status === 404) {
		return { kind: "transient", reason: oneLine(`${reason} (check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)`) };
	}
	if (response.status >= 400 && response.status < 500 && CALLER_ID_CODES.has(twilioCode(text))) {
		return {
			kind: "transient",
			reason: oneLine(`${reason} (the caller id is not usable on this Twilio account: verify it or buy it in Twilio)`),
		};
	}
	const result = classifyDialResponse(response.status, text, retryAfterMs);
	return result.kind === "accepted" ? result : { ...result, reason };
}

/** One page of a list (Calls.json, Messages.json): the records, or why it could not be read. */
export async function listPage<T>(
	config: TwilioConfig,
	path: string,
	params: URLSearchParams,
	key: string,
): Promise<{ ok: true; records: T[] } | { ok: false; result: DialResult }> {
	let response: Response;
	try {
		response = await twilioFetch(config, "GET", path, params);
	} catch (error) {
		return { ok: false, result: transient(error) };
	}
	const text = await response.text().catch(() => "");
	if (response.status !== 200) {
		const retryAfter = parseRetryAfter(response.headers.get("Retry-After"), Date.now());
		// Whatever the list's answer, the call may exist: never a permanent refusal from a look-up.
		return {
			ok: false,
			result: {
				kind: "transient",
				reason: `The look-up for an earlier request failed: ${twilioReason(response.status, text)}`,
				uncertain: true,
				...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter * 1000 }),
			},
		};
	}
	try {
		const records = (JSON.parse(text) as Record<string, unknown>)[key];
		return { ok: true, records: Array.isArray(records) ? (records as T[]) : [] };
	} catch {
		return { ok: false, result: { kind: "transient", reason: "Twilio's list answer was not JSON.", uncertain: true } };
	}
}

/** The UTC day of an instant, as Twilio's date filters take it (`YYYY-MM-DD`). */
export const utcDay = (at: number) => new Date(at).toISOString().slice(0, 10);

/** How far Twilio's clock and ours may disagree when matching a record's date_created to the first ask. */
export const CLOCK_SKEW_MS = 2 * 60_000;

/** A record of Twilio's lists (Calls, Messages), as the re-ask look-ups read it. */
export interface ListedRecord {
	sid?: string;
	date_created?: string;
	to?: string;
	from?: string;
}

/**
 * The re-ask look-up's answer: among the records Twilio created since `since` (oldest first),
 * the first whose sid no other callgate row has claimed in `table`.`column` — one query.
 */
export async function firstUnclaimed(
	env: Env,
	records: readonly ListedRecord[],
	since: number,
	claims: { table: "calls" | "sms_messages"; column: "provider_call_id" | "provider_message_id"; exceptId: string },
): Promise<{ found: string | null }> {
	const sids = [
		...new Set(
			records
				.filter((record) => {
					const created = Date.parse(record.date_created ?? "");
					return typeof record.sid === "string" && record.sid !== "" && !Number.isNaN(created) && created >= since;
				})
				.sort((a, b) => Date.parse(a.date_created ?? "") - Date.parse(b.date_created ?? ""))
				.map((record) => record.sid as string),
		),
	];
	if (!sids.length) return { found: null };
	const { table, column, exceptId } = claims;
	const { results } = await env.DB.prepare(
		`SELECT ${column} AS sid FROM ${table} WHERE ${column} IN (${sids.map(() => "?").join(", ")}) AND id != ?`,
	)
		.bind(...sids, exceptId)
		.all<{ sid: string }>();
	const claimed = new Set(results.map((row) => row.sid));
	return { found: sids.find((sid) => !claimed.has(sid)) ?? null };
}
