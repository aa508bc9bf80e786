import { type Backoff, DEFAULT_BACKOFF, retryAfterMs, timerDelay } from "./backoff.js";
import {
	type BulkResult,
	chunkItems,
	type ImportReport,
	LIMITS,
	markRepeatedDeletes,
	mergeBulkResults,
	mergeImportReports,
	splitCsv,
} from "./bulk.js";
import { ResponseCache } from "./cache.js";
import {
	type BulkProgress,
	CallgateError,
	errorFor,
	isConnectionRefusal,
	NetworkError,
	OutcomeUnknownError,
	PreconditionFailedError,
} from "./errors.js";
import { type EventStreamOptions, openEventStream, type StreamMessage } from "./events.js";
import { Gate } from "./gate.js";
import { isCacheable, isIdempotencyKey, newIdempotencyKey, operationName, takesIdempotencyKey } from "./keys.js";
import { DEFAULT_PACING, type PacingOptions } from "./pacing.js";
import { DEFAULT_RETRY, type RetryPolicy, type RetryReason, retryDecision } from "./retry.js";
import type {
	ApiResponse,
	CommonOptions,
	HttpMethod,
	OptionsArgument,
	PathsWith,
	RequestOptions,
	ResponseData,
	Schemas,
} from "./types.js";
import { buildUrl, type QueryValue } from "./url.js";

export interface CallgateOptions {
	/** The API's origin, e.g. "http://127.0.0.1:8787" (a path prefix is kept). */
	baseUrl: string;
	/** A bearer token (login's `token`, or a long-lived API token). One client per token: pacing is per token. */
	token?: string;
	/** Attempts per logical call, the first included (5). */
	maxAttempts?: number;
	/** Backoff for 5xx and network errors: 1 s · 2^n, capped at 30 s, plus up to 1 s of jitter. */
	backoff?: Partial<Backoff>;
	/** Requests in flight at most (20, or the server's advertised cap if lower). */
	maxConnections?: number;
	/** How long one attempt may take before it counts as a network error (30 s). */
	timeoutMs?: number;
	/** How long users, caller ids and queues are used from the cache before revalidating: 60–300 s, 0 = off (60 s). */
	cacheTtlMs?: number;
	/** Pacing: the window, the reserve below which the rest is spread, the margin. */
	pacing?: Partial<PacingOptions>;
	/**
	 * The longest Retry-After a call waits out (5 minutes): a 429 (or 409, or 5xx) asking for
	 * more is thrown to the caller (RateLimitError…) at once, and holds the group back at most this long.
	 */
	maxRetryAfterMs?: number;
	/** Told about every retry, before its wait. */
	onRetry?: (retry: RetryInfo) => void;
	fetch?: typeof fetch;
	/** Clock (ms) for pacing, the cache and Retry-After dates. */
	now?: () => number;
	random?: () => number;
}

export interface RetryInfo {
	/** "POST /api/pbx/calls/click-to-call" */
	request: string;
	/** The attempt that failed (0 = the first). */
	attempt: number;
	reason: RetryReason;
	/** The failed attempt's status; undefined when no answer came. */
	status: number | undefined;
	delayMs: number;
	idempotencyKey: string | undefined;
}

/** What the core takes: the typed options, erased. */
interface SendOptions extends CommonOptions {
	path?: Record<string, string | number>;
	query?: Record<string, QueryValue>;
	body?: unknown;
	/** A body sent as is with this Content-Type (CSV imports). */
	raw?: { contentType: string; text: string };
}

type LeadRow = Schemas["LeadBody"];
type LeadPatch = Schemas["LeadBulkPatchBody"]["leads"][number];
/** A contact as a folder import takes it: a phone, or an object with `phone`, `name` and attributes. */
export type ContactRow = string | { phone: string; name?: string; [attribute: string]: unknown };

type ItemOf<T> = T extends { data: (infer I)[] } ? I : never;
type PatchOrPut = "patch" | "put";

/**
 * A callgate client for one token that follows the seed's CRM practices by itself:
 * - every write on a route that takes an Idempotency-Key gets one per logical call (or the
 *   caller's), the same on every retry;
 * - 429 is retried after Retry-After, a 409 for a key still in flight after its Retry-After,
 *   5xx and network errors with exponential backoff and jitter — the last two only when
 *   repeating the request is safe; other errors are typed (CallgateError and subclasses);
 * - requests are paced per rate-limit group so Remaining never hits 0 (the last few are
 *   spread until the window frees), and at most the connection cap are in flight;
 * - users, caller ids and queues are cached with their ETags and revalidated with If-None-Match.
 */
export class Callgate {
	readonly baseUrl: string;
	private readonly token: string | undefined;
	private readonly fetchImpl: typeof fetch;
	private readonly gate: Gate;
	private readonly cache: ResponseCache;
	private readonly maxAttempts: number;
	private readonly backoff: Backoff;
	private readonly maxRetryAfterMs: number;
	private readonly now: () => number;
	private readonly timeoutMs: number;
	private readonly random: () => number;
	private readonly onRetry: ((retry: RetryInfo) => void) | undefined;

	constructor(options: CallgateOptions) {
		this.baseUrl = options.baseUrl;
		this.token = options.token;
		// Called bare, a method reference to the global fetch throws "Illegal invocation" in browsers.
		this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
		const now = options.now ?? Date.now;
		this.now = now;
		this.maxRetryAfterMs = options.maxRetryAfterMs ?? DEFAULT_RETRY.maxRetryAfterMs;
		this.gate = new Gate({
			maxConnections: options.maxConnections,
			pacing: { ...DEFAULT_PACING, ...options.pacing },
			now,
			maxBlockMs: this.maxRetryAfterMs,
		});
		this.cache = new ResponseCache(options.cacheTtlMs ?? 60_000, now);
		this.maxAttempts = options.maxAttempts ?? DEFAULT_RETRY.maxAttempts;
		this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
		this.timeoutMs = options.timeoutMs ?? 30_000;
		this.random = options.random ?? Math.random;
		this.onRetry = options.onRetry;
	}

	/** Requests and streams of this client in flight now. */
	get inFlight(): number {
		return this.gate.active;
	}

	/** Any method and path, with the whole answer. */
	request<M extends HttpMethod, P extends PathsWith<M>>(
		method: M,
		path: P,
		...[options]: OptionsArgument<RequestOptions<P, M>>
	): Promise<ApiResponse<ResponseData<P, M>>> {
		return this.send(method, path, asSendOptions(options)) as unknown as Promise<ApiResponse<ResponseData<P, M>>>;
	}

	async get<P extends PathsWith<"get">>(path: P, ...[options]: OptionsArgument<RequestOptions<P, "get">>) {
		return (await this.send("get", path, asSendOptions(options))).data as ResponseData<P, "get">;
	}

	async post<P extends PathsWith<"post">>(path: P, ...[options]: OptionsArgument<RequestOptions<P, "post">>) {
		return (await this.send("post", path, asSendOptions(options))).data as ResponseData<P, "post">;
	}

	async put<P extends PathsWith<"put">>(path: P, ...[options]: OptionsArgument<RequestOptions<P, "put">>) {
		return (await this.send("put", path, asSendOptions(options))).data as ResponseData<P, "put">;
	}

	async patch<P extends PathsWith<"patch">>(path: P, ...[options]: OptionsArgument<RequestOptions<P, "patch">>) {
		return (await this.send("patch", path, asSendOptions(options))).data as ResponseData<P, "patch">;
	}

	async delete<P extends PathsWith<"delete">>(path: P, ...[options]: OptionsArgument<RequestOptions<P, "delete">>) {
		return (await this.send("delete", path, asSendOptions(options))).data as ResponseData<P, "delete">;
	}

	/** Every item of a cursor-paginated list, page after page. */
	async *paginate<P extends PathsWith<"get">>(
		path: P,
		...[options]: OptionsArgument<RequestOptions<P, "get">>
	): AsyncGenerator<ItemOf<ResponseData<P, "get">>> {
		const base = asSendOptions(options);
		let cursor: string | undefined;
		do {
			const page = (await this.send("get", path, { ...base, query: { ...base.query, ...(cursor ? { cursor } : {}) } })).data as {
				data: ItemOf<ResponseData<P, "get">>[];
				next_cursor?: string | null;
			};
			yield* page.data;
			cursor = page.next_cursor ?? undefined;
		} while (cursor);
	}

	/**
	 * Read, change, write back with If-Match; when someone else wrote first (412), read again
	 * and re-apply `change` to what is there now, up to `attempts` times (5). `change` gets the
	 * current representation and returns the PUT or PATCH body.
	 *
	 * A change is never applied twice. When a write got no answer (or a 5xx) and its repeat met
	 * 412, the 412 may be the server refusing to apply it a second time: the client reads again,
	 * and if every field it wrote already holds the value it wrote, the write is taken as done
	 * (the resolved value is then the representation read); otherwise it throws
	 * OutcomeUnknownError with what is there now, and re-applies nothing.
	 */
	async update<M extends PatchOrPut, P extends PathsWith<M> & PathsWith<"get">>(
		method: M,
		path: P,
		options: {
			path?: Record<string, string | number>;
			change: (
				current: ResponseData<P, "get">,
				attempt: number,
			) => RequestOptions<P, M>["body"] | Promise<RequestOptions<P, M>["body"]>;
			attempts?: number;
			signal?: AbortSignal;
		},
	): Promise<ResponseData<P, M>> {
		const attempts = options.attempts ?? 5;
		for (let attempt = 1; ; attempt++) {
			const current = await this.send("get", path, { path: options.path, signal: options.signal, cache: false });
			if (!current.etag) throw new TypeError(`GET ${path} sent no ETag: it cannot be updated with If-Match`);
			const body = await options.change(current.data as ResponseData<P, "get">, attempt);
			try {
				const written = await this.send(method, path, {
					path: options.path,
					body,
					ifMatch: current.etag,
					signal: options.signal,
				});
				return written.data as ResponseData<P, M>;
			} catch (error) {
				if (!(error instanceof PreconditionFailedError)) throw error;
				if (error.afterLostAttempt) {
					const reread = await this.send("get", path, { path: options.path, signal: options.signal, cache: false });
					if (holdsWrite(reread.data, body)) return reread.data as ResponseData<P, M>;
					throw new OutcomeUnknownError(`${method.toUpperCase()} ${path}`, {
						current: reread.data,
						etag: reread.etag,
						attempted: body,
						cause: error,
					});
				}
				if (attempt >= attempts) throw error;
			}
		}
	}

	/**
	 * Imports any number of leads into a telesales campaign: 10,000 rows (and at most 8 MiB) per
	 * request, each request with its own Idempotency-Key, one report for all (rows numbered as
	 * in `leads`). `atomic` (any invalid row rejects all) holds only within one request, so it
	 * is refused for more rows than one request takes.
	 */
	async importLeads(campaignId: string, leads: readonly LeadRow[], options: { atomic?: boolean; signal?: AbortSignal } = {}) {
		const chunks = chunkItems(leads, LIMITS.importRows, LIMITS.importBytes);
		if (options.atomic && chunks.length > 1) throw new RangeError("an atomic import must fit one request (10,000 rows, 8 MiB)");
		return await this.importChunks(chunks, (rows) =>
			this.send("post", "/api/telesales/campaigns/{id}/leads/bulk-import", {
				path: { id: campaignId },
				body: { leads: rows, ...(options.atomic ? { atomic: true } : {}) },
				signal: options.signal,
			}),
		);
	}

	/** Imports a CSV file of leads (header row first): 100,000 records (and at most 32 MiB) per request. */
	async importLeadsCsv(campaignId: string, csv: string, options: { atomic?: boolean; signal?: AbortSignal } = {}) {
		const chunks = splitCsv(csv);
		if (options.atomic && chunks.length > 1)
			throw new RangeError("an atomic import must fit one request (100,000 records, 32 MiB)");
		return await this.importCsvChunks(chunks, (text) =>
			this.send("post", "/api/telesales/campaigns/{id}/leads/bulk-import", {
				path: { id: campaignId },
				query: options.atomic ? { atomic: "true" } : {},
				raw: { contentType: "text/csv", text },
				signal: options.signal,
			}),
		);
	}

	/**
	 * Imports any number of contacts into an autocall folder, 10,000 per request. The route takes
	 * no Idempotency-Key, but a phone already in the folder is a duplicate, so a chunk is safely
	 * repeated after a lost answer (its rows then report as duplicates).
	 */
	async importContacts(folderId: string, contacts: readonly ContactRow[], options: { signal?: AbortSignal } = {}) {
		return await this.importChunks(chunkItems(contacts, LIMITS.importRows, LIMITS.importBytes), (rows) =>
			this.send("post", "/api/autocall/contact-folders/{id}/contacts/bulk-import", {
				path: { id: folderId },
				body: { contacts: rows },
				repeatable: true,
				signal: options.signal,
			}),
		);
	}

	/** Imports a CSV file of contacts (header row first), 100,000 records per request. */
	async importContactsCsv(folderId: string, csv: string, options: { signal?: AbortSignal } = {}) {
		return await this.importCsvChunks(splitCsv(csv), (text) =>
			this.send("post", "/api/autocall/contact-folders/{id}/contacts/bulk-import", {
				path: { id: folderId },
				raw: { contentType: "text/csv", text },
				repeatable: true,
				signal: options.signal,
			}),
		);
	}

	/**
	 * Changes any number of leads, 1,000 per PATCH /api/telesales/leads/bulk; per-item results in
	 * input order. Setting fields is repeatable, so a lost answer is retried.
	 */
	async updateLeads(leads: readonly LeadPatch[], options: { signal?: AbortSignal } = {}): Promise<BulkResult> {
		return await this.bulkChunks(chunkItems(leads, LIMITS.bulkItems, LIMITS.bulkBytes), async (chunk) => {
			const answer = await this.send("patch", "/api/telesales/leads/bulk", {
				body: { leads: chunk },
				repeatable: true,
				signal: options.signal,
			});
			return answer.data as BulkResult;
		});
	}

	/**
	 * Deletes any number of leads, 1,000 per DELETE /api/telesales/leads/bulk; per-item results
	 * in input order. A chunk repeated after a lost answer (or a 5xx) reports the leads it found
	 * missing as `deleted_or_missing`: the lost attempt may have deleted them.
	 */
	async deleteLeads(ids: readonly string[], options: { signal?: AbortSignal } = {}): Promise<BulkResult> {
		return await this.bulkChunks(chunkItems(ids, LIMITS.bulkItems, LIMITS.bulkBytes), async (chunk) => {
			const answer = await this.send("delete", "/api/telesales/leads/bulk", { body: { ids: chunk }, signal: options.signal });
			const part = answer.data as BulkResult;
			return answer.afterLostAttempt ? markRepeatedDeletes(part) : part;
		});
	}

	/**
	 * The account's events (GET /api/pbx/events) as an async iterator that reconnects with
	 * backoff and resumes after the last event it yielded (Last-Event-ID), so none is missed or
	 * repeated. Stop it with `break` or the signal.
	 */
	events(options: EventStreamOptions = {}): AsyncGenerator<StreamMessage> {
		return openEventStream(
			{
				url: buildUrl(this.baseUrl, "/api/pbx/events", undefined, undefined),
				route: operationName("get", "/api/pbx/events"),
				token: this.token,
				fetch: this.fetchImpl,
				gate: this.gate,
				backoff: this.backoff,
				random: this.random,
				now: this.now,
				maxRetryAfterMs: this.maxRetryAfterMs,
			},
			options,
		);
	}

	/** Cached lists are asked again (with If-None-Match) at their next use. */
	expireCache(): void {
		this.cache.expireAll();
	}

	private async importChunks<T>(chunks: T[][], send: (rows: T[]) => Promise<ApiResponse<unknown>>): Promise<ImportReport> {
		const parts = [];
		let firstRow = 0;
		for (const rows of chunks) {
			try {
				parts.push({ report: (await send(rows)).data as ImportReport, firstRow });
			} catch (error) {
				throw withBulkProgress(error, { processed: firstRow, report: mergeImportReports(parts) });
			}
			firstRow += rows.length;
		}
		return mergeImportReports(parts);
	}

	private async importCsvChunks(
		chunks: ReturnType<typeof splitCsv>,
		send: (text: string) => Promise<ApiResponse<unknown>>,
	): Promise<ImportReport> {
		const parts = [];
		for (const chunk of chunks) {
			try {
				parts.push({
					report: (await send(chunk.text)).data as ImportReport,
					firstRow: chunk.firstRow,
					lineOffset: chunk.lineOffset,
				});
			} catch (error) {
				throw withBulkProgress(error, { processed: chunk.firstRow, report: mergeImportReports(parts) });
			}
		}
		return mergeImportReports(parts);
	}

	private async bulkChunks<T>(chunks: T[][], send: (chunk: T[]) => Promise<BulkResult>): Promise<BulkResult> {
		const parts: BulkResult[] = [];
		let processed = 0;
		for (const chunk of chunks) {
			try {
				parts.push(await send(chunk));
			} catch (error) {
				throw withBulkProgress(error, { processed, report: mergeBulkResults(parts) });
			}
			processed += chunk.length;
		}
		return mergeBulkResults(parts);
	}

	/** One logical call: its attempts, each waiting for a turn at the gate. */
	private async send(method: HttpMethod, template: string, options: SendOptions): Promise<ApiResponse<unknown>> {
		const operation = operationName(method, template);
		const url = buildUrl(this.baseUrl, template, options.path, options.query);
		const keyed = takesIdempotencyKey(operation);
		if (options.idempotencyKey !== undefined) {
			if (!keyed)
				throw new TypeError(`${operation} takes no Idempotency-Key: the server would ignore it, so retrying would not be safe`);
			if (!isIdempotencyKey(options.idempotencyKey)) throw new TypeError("An Idempotency-Key is a UUID v4");
		}
		const idempotencyKey = keyed ? (options.idempotencyKey ?? newIdempotencyKey()) : undefined;
		const repeatable = method === "get" || method === "put" || method === "delete" || keyed || options.repeatable === true;
		const cacheable = method === "get" && isCacheable(operation);
		const cached = cacheable ? this.cache.lookup(url) : undefined;
		if (cached?.fresh && options.cache !== false) {
			return {
				status: 200,
				data: cached.data,
				headers: new Headers(),
				etag: undefined,
				replayed: false,
				source: "cache",
				attempts: 0,
				idempotencyKey,
				afterLostAttempt: false,
			};
		}
		// Taken before the first attempt: a write after this point makes the answer unfit to keep.
		const read = cacheable ? this.cache.begin(url) : undefined;
		const headers = new Headers(options.headers);
		headers.set("Accept", "application/json");
		if (this.token) headers.set("Authorization", `Bearer ${this.token}`);
		if (idempotencyKey) headers.set("Idempotency-Key", idempotencyKey);
		if (options.ifMatch) headers.set("If-Match", options.ifMatch);
		if (cached && !cached.fresh) headers.set("If-None-Match", cached.etag);
		let body: string | undefined;
		if (options.raw) {
			headers.set("Content-Type", options.raw.contentType);
			body = options.raw.text;
		} else if (options.body !== undefined) {
			headers.set("Content-Type", "application/json");
			body = JSON.stringify(options.body);
		}
		const request = `${method.toUpperCase()} ${template}`;
		// A write's attempt that got no answer or a 5xx may have been applied: later answers are a repeat's.
		let afterLostAttempt = false;
		for (let attempt = 0; ; attempt++) {
			const ticket = await this.gate.acquire(operation, options.signal);
			let response: Response;
			let text: string;
			try {
				({ response, text } = await this.attempt(url, { method: method.toUpperCase(), headers, body }, options.signal));
			} catch (error) {
				ticket.release();
				if (options.signal?.aborted) throw options.signal.reason;
				const decision = retryDecision({ networkError: true }, { attempt, repeatable }, this.retryPolicy(), this.random);
				if (!decision.retry) throw new NetworkError(request, error, !repeatable);
				afterLostAttempt = method !== "get";
				await this.pause(
					{ request, attempt, reason: decision.reason, status: undefined, delayMs: decision.delayMs, idempotencyKey },
					options.signal,
				);
				continue;
			}
			const data = parseBody(text);
			const retryAfter = retryAfterMs(response.headers.get("Retry-After"), this.now());
			ticket.answered({
				status: response.status,
				headers: response.headers,
				retryAfterMs: retryAfter,
				connectionRefused: isConnectionRefusal(response.status, data),
			});
			ticket.release();
			const etag = response.headers.get("ETag") ?? undefined;
			const answer = {
				status: response.status,
				headers: response.headers,
				etag,
				replayed: response.headers.get("Idempotent-Replayed") === "true",
				attempts: attempt + 1,
				idempotencyKey,
				afterLostAttempt,
			};
			if (response.status === 304 && cached && !cached.fresh && read) {
				// The copy taken when the GET was sent: a write meanwhile may have dropped the entry.
				this.cache.confirm(read, cached);
				return { ...answer, data: cached.data, source: "revalidated" };
			}
			if (response.status < 400) {
				if (read && etag) this.cache.store(read, etag, data);
				if (method !== "get") this.cache.invalidate(new URL(url).pathname);
				return { ...answer, data, source: "network" };
			}
			if (method === "delete" && response.status === 404 && afterLostAttempt) {
				// The lost attempt most likely deleted it: its repeat finding nothing is that success.
				this.cache.invalidate(new URL(url).pathname);
				return { ...answer, data: undefined, source: "network" };
			}
			const decision = retryDecision(
				{ status: response.status, retryAfterMs: retryAfter },
				{ attempt, repeatable },
				this.retryPolicy(),
				this.random,
			);
			if (!decision.retry) throw errorFor(response.status, data, response.headers, request, afterLostAttempt);
			if (response.status >= 500 && method !== "get") afterLostAttempt = true;
			await this.pause(
				{ request, attempt, reason: decision.reason, status: response.status, delayMs: decision.delayMs, idempotencyKey },
				options.signal,
			);
		}
	}

	/** One HTTP exchange, body included, within `timeoutMs`. */
	private async attempt(
		url: string,
		init: RequestInit,
		signal: AbortSignal | undefined,
	): Promise<{ response: Response; text: string }> {
		const controller = new AbortController();
		const timer = setTimeout(() => controller.abort(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
		const forward = () => controller.abort(signal?.reason);
		signal?.addEventListener("abort", forward, { once: true });
		try {
			const response = await this.fetchImpl(url, { ...init, signal: controller.signal });
			return { response, text: await response.text() };
		} finally {
			clearTimeout(timer);
			signal?.removeEventListener("abort", forward);
		}
	}

	private retryPolicy(): RetryPolicy {
		return { maxAttempts: this.maxAttempts, backoff: this.backoff, maxRetryAfterMs: this.maxRetryAfterMs };
	}

	private async pause(retry: RetryInfo, signal: AbortSignal | undefined): Promise<void> {
		this.onRetry?.(retry);
		await sleep(retry.delayMs, signal);
	}
}

/** The typed options as the core takes them (their unions are too large for TypeScript to compare). */
const asSendOptions = (options: unknown): SendOptions => (options ?? {}) as SendOptions;

function parseBody(text: string): unknown {
	if (text === "") return undefined;
	try {
		return JSON.parse(text);
	} catch {
		return text;
	}
}

/**
 * Whether `current` holds every field `body` wrote, with the value written (a PATCH body's
 * fields, or a PUT body's): the write is in. A null written reads back as null or absent.
 */
export function holdsWrite(current: unknown, body: unknown): boolean {
	if (!isRecord(body)) return sameValue(current, body);
	if (!isRecord(current)) return false;
	return Object.entries(body).every(([field, value]) =>
		value === null ? current[field] === null || current[field] === undefined : sameValue(current[field], value),
	);
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
	typeof value === "object" && value !== null && !Array.isArray(value);

function sameValue(a: unknown, b: unknown): boolean {
	if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
	if (isRecord(a) && isRecord(b)) {
		const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
		return [...keys].every((key) => sameValue(a[key], b[key]));
	}
	return Object.is(a, b);
}

/** The bulk helpers' errors carry what the chunks before the failing one did. */
function withBulkProgress(error: unknown, progress: BulkProgress): unknown {
	if (error instanceof CallgateError || error instanceof NetworkError) error.bulkProgress = progress;
	return error;
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
	return new Promise((resolve, reject) => {
		if (signal?.aborted) return reject(signal.reason);
		const timer = setTimeout(() => {
			signal?.removeEventListener("abort", abort);
			resolve();
		}, timerDelay(ms));
		const abort = () => {
			clearTimeout(timer);
			reject(signal?.reason);
		};
		signal?.addEventListener("abort", abort, { once: true });
	});
}
