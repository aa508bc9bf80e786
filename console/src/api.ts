import { currentToken, onTokenChange, storeToken } from "./auth";
import { BudgetGate, GroupBudget } from "./budget";
import { type RateReading, readRateHeaders } from "./rate-headers";

/** An answer the API refused, or no answer at all (status 0). */
export class ApiError extends Error {
	constructor(
		readonly status: number,
		message: string,
		readonly fields: Record<string, string[]> = {},
		readonly retryAfterSeconds: number | undefined = undefined,
	) {
		super(message);
		this.name = "ApiError";
	}
}

export interface Reply<T> {
	status: number;
	body: T;
	etag: string | null;
}

export interface RequestOptions {
	body?: unknown;
	ifMatch?: string | null;
	/** Sent as Idempotency-Key: the same key on every retry, so the write happens once. */
	idempotencyKey?: string;
	/** For login: no token is sent and a 401 is the caller's to show. */
	anonymous?: boolean;
	/** A token other than the tab's (sign-out revokes the one it has just forgotten). */
	token?: string;
	signal?: AbortSignal;
}

/** The last rate-limit headers seen per group, for the tab's current token: the Limits page shows them as they arrive. */
export const rateReadings = new Map<string, RateReading>();
const readingListeners = new Set<() => void>();
export function onRateReading(listener: () => void): () => void {
	readingListeners.add(listener);
	return () => readingListeners.delete(listener);
}
const readingsChanged = () => {
	for (const listener of readingListeners) listener();
};

/**
 * The autocall group's budget, shared by every page of the tab: the campaigns list, each row,
 * a campaign's page and its chart all spend the same 120 a minute, and its last requests are
 * kept for pause, resume and cancel.
 */
export const autocallGate = new BudgetGate(new GroupBudget());
const AUTOCALL = "autocall";
const budgetedGroup = (path: string) => (path.startsWith("/api/autocall/") ? autocallGate : undefined);

// Readings and windows belong to a token: another token (a switch of account, a sign-out) starts with none.
onTokenChange(() => {
	rateReadings.clear();
	autocallGate.reset();
	readingsChanged();
});

const MAX_ATTEMPTS = 4;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Whether a keyed write may be sent again: the key makes a repeat safe, and these answers
 * mean nothing was kept (5xx, a key still in flight, a limit), or nothing came back at all.
 */
const retryable = (status: number) => status === 0 || status === 409 || status === 429 || status >= 500;

/** One call to the API: JSON in and out, the token, the headers read, errors as ApiError. */
export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<Reply<T>> {
	const attempts = options.idempotencyKey ? MAX_ATTEMPTS : 1;
	for (let attempt = 1; ; attempt++) {
		try {
			return await send<T>(method, path, options);
		} catch (error) {
			if (!(error instanceof ApiError) || attempt >= attempts || !retryable(error.status)) throw error;
			// A 409 without Retry-After is a state conflict (cannot pause a completed campaign), not a key in flight.
			if (error.status === 409 && error.retryAfterSeconds === undefined) throw error;
			const waitMs = error.retryAfterSeconds !== undefined ? error.retryAfterSeconds * 1000 : 500 * 2 ** attempt;
			if (waitMs > 15_000) throw error;
			await sleep(waitMs * (0.8 + Math.random() * 0.4));
		}
	}
}

async function send<T>(method: string, path: string, options: RequestOptions): Promise<Reply<T>> {
	const gate = budgetedGroup(path);
	if (!gate) return sendNow<T>(method, path, options);
	// Reads are background (they wait while the window is down to its reserve); writes are the operator's.
	const release = await gate.acquire(method === "GET" ? "background" : "operator", options.signal);
	const sentAt = Date.now();
	try {
		return await sendNow<T>(method, path, options, (reading) => {
			if (reading.group === AUTOCALL) gate.budget.observe(reading, sentAt, Date.now());
		});
	} finally {
		release();
	}
}

async function sendNow<T>(
	method: string,
	path: string,
	options: RequestOptions,
	onReading?: (reading: RateReading) => void,
): Promise<Reply<T>> {
	const headers: Record<string, string> = { Accept: "application/json" };
	const token = options.token ?? currentToken();
	if (token && !options.anonymous) headers.Authorization = `Bearer ${token}`;
	if (options.body !== undefined) headers["Content-Type"] = "application/json";
	if (options.ifMatch) headers["If-Match"] = options.ifMatch;
	if (options.idempotencyKey) headers["Idempotency-Key"] = options.idempotencyKey;
	let response: Response;
	try {
		response = await fetch(path, {
			method,
			headers,
			body: options.body === undefined ? undefined : JSON.stringify(options.body),
			signal: options.signal,
			cache: "no-store",
		});
	} catch (error) {
		if (options.signal?.aborted) throw error;
		throw new ApiError(0, "The server could not be reached. Check that it is running, then try again.");
	}
	const reading = readRateHeaders((name) => response.headers.get(name), Date.now());
	// An answer to a token the tab no longer holds says nothing about the current one's windows.
	if (reading && token === currentToken()) {
		rateReadings.set(reading.group, reading);
		onReading?.(reading);
		readingsChanged();
	}
	const text = await response.text();
	const body = parseBody(text);
	if (response.ok) return { status: response.status, body: body as T, etag: response.headers.get("ETag") };
	const retryAfter = response.headers.get("Retry-After");
	const problem = (body ?? {}) as { message?: unknown; errors?: Record<string, string[]> };
	const message = typeof problem.message === "string" ? problem.message : `HTTP ${response.status}`;
	// The tab's token expired or was revoked: back to sign-in, whatever page asked (not for another
	// token, as when the admin's session is revoked after the switch to an owner).
	if (response.status === 401 && !options.anonymous && token === currentToken()) storeToken(null);
	throw new ApiError(response.status, message, problem.errors ?? {}, retryAfter === null ? undefined : Number(retryAfter));
}

function parseBody(text: string): unknown {
	if (!text) return null;
	try {
		return JSON.parse(text);
	} catch {
		return { message: text.slice(0, 200) };
	}
}

export const get = <T>(path: string, signal?: AbortSignal) => request<T>("GET", path, { signal });

/** Fetches every page of a list, up to `maxPages` (a bound on the requests one view may spend). */
export async function getAll<T>(
	path: string,
	maxPages: number,
	signal?: AbortSignal,
): Promise<{ items: T[]; complete: boolean }> {
	const items: T[] = [];
	let cursor: string | null = null;
	for (let page = 0; page < maxPages; page++) {
		const separator = path.includes("?") ? "&" : "?";
		const url: string = `${path}${separator}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
		const { body } = await get<{ data: T[]; next_cursor: string | null }>(url, signal);
		items.push(...body.data);
		cursor = body.next_cursor;
		if (!cursor) return { items, complete: true };
	}
	return { items, complete: false };
}

export const newIdempotencyKey = () => crypto.randomUUID();
