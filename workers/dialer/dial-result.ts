/**
 * What became of a dial request. Only `accepted` is a call attempt: a transient refusal
 * (network error, timeout, 408, 429, 5xx) leaves the attempt unused and is tried again later;
 * a permanent one (any other 4xx) fails the attempt with the provider's reason.
 */
export type DialResult =
	/** `providerCallId`: the carrier's id for the call (Twilio's CallSid, Telnyx's call_control_id), kept on the call. */
	| { kind: "accepted"; providerCallId?: string }
	/** `uncertain`: no answer came (a timeout, a dropped connection), so the provider may have placed the call. */
	| { kind: "transient"; reason: string; retryAfterMs?: number; uncertain?: boolean }
	| { kind: "permanent"; reason: string };

const MAX_REASON_LENGTH = 200;
/** Wait at least this long after a transient refusal, and at most this long (unless the provider asks for more). */
export const MIN_PROVIDER_BACKOFF_MS = 1_000;
export const MAX_PROVIDER_BACKOFF_MS = 5 * 60_000;
/** A provider's Retry-After is honoured up to this long; anything larger is treated as this. */
const MAX_RETRY_AFTER_MS = 60 * 60_000;

/** A thrown dial (network failure, timeout, a provider object that did not answer) is transient, and uncertain. */
export function transient(error: unknown): DialResult {
	const name = error instanceof Error ? error.name : "";
	const reason =
		name === "TimeoutError" || name === "AbortError"
			? "The provider did not answer in time."
			: "The provider could not be reached.";
	// No answer came: the request may have reached the provider before the connection failed.
	return { kind: "transient", reason, uncertain: true };
}

/** The reason a provider gave in its error body (`message`, `error`, or the text), one line, bounded. */
export function providerReason(status: number, body: string): string {
	let detail = body;
	try {
		const parsed: unknown = JSON.parse(body);
		if (parsed && typeof parsed === "object") {
			const fields = parsed as Record<string, unknown>;
			const candidate = fields.message ?? fields.error ?? fields.reason;
			detail = typeof candidate === "string" ? candidate : "";
		}
	} catch {
		// Not JSON: the text itself is the reason.
	}
	const line = detail.replace(/\s+/g, " ").trim();
	const reason = line ? `HTTP ${status}: ${line}` : `HTTP ${status}`;
	return reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH - 1)}…` : reason;
}

/**
 * A provider's answer to a dial request. Anything that is neither a success nor a clear
 * refusal of this call (1xx, 3xx) is transient: a misconfigured URL must not burn contacts.
 */
export function classifyDialResponse(status: number, body: string, retryAfterMs?: number): DialResult {
	if (status >= 200 && status < 300) return { kind: "accepted" };
	const reason = providerReason(status, body);
	if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { kind: "permanent", reason };
	return retryAfterMs === undefined
		? { kind: "transient", reason }
		: { kind: "transient", reason, retryAfterMs: Math.min(retryAfterMs, MAX_RETRY_AFTER_MS) };
}

/**
 * Wait before the next dial after `failures` transient refusals in a row: 1 s doubling to
 * 5 minutes, ±20 % jitter so that many campaigns do not retry in step, never sooner than the
 * provider's Retry-After.
 */
export function providerBackoffMs(failures: number, random: number, retryAfterMs = 0): number {
	const base = Math.min(MAX_PROVIDER_BACKOFF_MS, MIN_PROVIDER_BACKOFF_MS * 2 ** Math.max(0, failures - 1));
	const jittered = Math.min(MAX_PROVIDER_BACKOFF_MS, Math.max(MIN_PROVIDER_BACKOFF_MS, Math.round(base * (0.8 + 0.4 * random))));
	return Math.max(jittered, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
}
