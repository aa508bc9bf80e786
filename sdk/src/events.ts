import { type Backoff, backoffDelay, retryAfterMs, timerDelay } from "./backoff.js";
import { errorFor, isConnectionRefusal } from "./errors.js";
import type { Gate } from "./gate.js";
import { SseParser } from "./sse.js";

/** An account event, as the stream and webhooks carry it. */
export interface AccountEvent {
	id: string;
	type: string;
	created_at: string;
	data: Record<string, unknown>;
}

/** The server could not replay from the client's last event (it is no longer kept): events may have been missed. */
export interface StreamGap {
	type: "stream.gap";
	last_event_id: string;
	message: string;
}

export type StreamMessage = AccountEvent | StreamGap;

export const isStreamGap = (message: StreamMessage): message is StreamGap => message.type === "stream.gap";

export interface EventStreamOptions {
	/** Resume after this event (one a previous iterator yielded). */
	lastEventId?: string;
	signal?: AbortSignal;
	/** A connection silent this long is taken as dead and replaced (the server writes every 0.5–2 s): 15 s. */
	idleTimeoutMs?: number;
	/**
	 * A connection open this long without an event still counts as healthy, and the reconnect
	 * backoff starts again from its shortest wait (as it does after an event): 30 s. One that
	 * ends sooner without an event keeps growing the backoff, so a server that accepts and
	 * closes at once is not hammered.
	 */
	stableAfterMs?: number;
	/** Told each time a connection is open (the server now streams to it): subscribe, then act. */
	onOpen?: (info: { lastEventId: string | undefined }) => void;
	/** Told about each reconnection, before its wait. */
	onReconnect?: (info: { attempt: number; delayMs: number; lastEventId: string | undefined; cause: unknown }) => void;
}

export interface StreamContext {
	url: string;
	route: string;
	token: string | undefined;
	fetch: typeof fetch;
	gate: Gate;
	backoff: Backoff;
	random: () => number;
	/** The client's clock: Retry-After dates, how long a connection stayed open. */
	now: () => number;
	/** A Retry-After beyond this ends the iterator with RateLimitError instead of being waited out. */
	maxRetryAfterMs: number;
}

/** Ids already yielded, so a replay that overlaps what was seen yields nothing twice. */
class RecentIds {
	private readonly ids = new Set<string>();
	private readonly limit: number;

	constructor(limit: number) {
		this.limit = limit;
	}

	/** True the first time. */
	add(id: string): boolean {
		if (this.ids.has(id)) return false;
		this.ids.add(id);
		if (this.ids.size > this.limit) this.ids.delete(this.ids.values().next().value as string);
		return true;
	}
}

class StreamClosed extends Error {
	override name = "StreamClosed";
}

/**
 * The event stream as an async iterator. Each connection holds one of the client's connection
 * slots (and one request of the pbx budget when it opens). When a connection ends — the
 * server closed it, the network dropped it, or it went silent — the iterator reconnects after
 * a backoff with jitter (reset once a connection delivered an event or stayed open
 * `stableAfterMs`), sending Last-Event-ID so that the server replays what was published
 * meanwhile. The server opens every stream with an `id:` of its position, so even a
 * connection that ends before its first event resumes from where it opened. 401, 403 and 404
 * end it with a typed error, as does a Retry-After beyond the client's ceiling; the signal
 * ends it quietly, also while it waits for a connection slot.
 */
export async function* openEventStream(context: StreamContext, options: EventStreamOptions): AsyncGenerator<StreamMessage> {
	const idleTimeoutMs = options.idleTimeoutMs ?? 15_000;
	const stableAfterMs = options.stableAfterMs ?? 30_000;
	const seen = new RecentIds(5_000);
	let lastEventId = options.lastEventId;
	let failures = 0;
	for (;;) {
		if (options.signal?.aborted) return;
		let ticket: Awaited<ReturnType<Gate["acquire"]>>;
		try {
			ticket = await context.gate.acquire(context.route, options.signal);
		} catch (error) {
			if (options.signal?.aborted) return;
			throw error;
		}
		const controller = new AbortController();
		// Also frees the slot: an iterator aborted while its consumer holds it at a yield runs
		// no `finally` until the consumer calls it again, which may be never.
		const abort = () => {
			controller.abort(options.signal?.reason);
			ticket.release();
		};
		options.signal?.addEventListener("abort", abort, { once: true });
		let idle: ReturnType<typeof setTimeout> | undefined;
		const arm = () => {
			if (idle !== undefined) clearTimeout(idle);
			idle = setTimeout(() => controller.abort(new StreamClosed(`no data for ${idleTimeoutMs} ms`)), idleTimeoutMs);
		};
		let cause: unknown;
		let waitAtLeast = 0;
		let openedAt: number | undefined;
		try {
			const headers = new Headers({ Accept: "text/event-stream" });
			if (context.token) headers.set("Authorization", `Bearer ${context.token}`);
			if (lastEventId) headers.set("Last-Event-ID", lastEventId);
			arm();
			const response = await context.fetch(context.url, { headers, signal: controller.signal });
			const retryAfter = retryAfterMs(response.headers.get("Retry-After"), context.now());
			if (!response.ok || !response.body) {
				const body = safeJson(await response.text());
				ticket.answered({
					status: response.status,
					headers: response.headers,
					retryAfterMs: retryAfter,
					connectionRefused: isConnectionRefusal(response.status, body),
				});
				const tooLong = retryAfter !== undefined && retryAfter > context.maxRetryAfterMs;
				if ((response.status !== 429 && response.status < 500) || tooLong)
					throw errorFor(response.status, body, response.headers, `GET ${context.url}`);
				waitAtLeast = retryAfter ?? 0;
				throw new StreamClosed(`HTTP ${response.status}`);
			}
			ticket.answered({ status: response.status, headers: response.headers, retryAfterMs: retryAfter });
			openedAt = context.now();
			options.onOpen?.({ lastEventId });
			const parser = new SseParser();
			const decoder = new TextDecoder();
			const reader = response.body.getReader();
			try {
				for (;;) {
					const { value, done } = await reader.read();
					if (done) throw new StreamClosed("the server ended the stream");
					arm();
					for (const message of parser.feed(decoder.decode(value, { stream: true }))) {
						const event = safeJson(message.data) as StreamMessage | undefined;
						if (!event || typeof event !== "object") continue;
						if (message.id !== undefined) lastEventId = message.id;
						if (message.id !== undefined && !seen.add(message.id)) continue;
						// A connection that delivers is healthy: the next reconnection waits the shortest again.
						failures = 0;
						// A consumer that takes long over one event is not a silent server.
						if (idle !== undefined) clearTimeout(idle);
						yield event;
						arm();
					}
					// An `id:` without data (the server's position, sent when the stream opens) moves
					// Last-Event-ID too, as for EventSource: every event it yielded had its id seen first.
					if (parser.lastEventId !== undefined) lastEventId = parser.lastEventId;
				}
			} finally {
				await reader.cancel().catch(() => undefined);
			}
		} catch (error) {
			if (options.signal?.aborted) return;
			if (!(error instanceof StreamClosed) && isTerminal(error)) throw error;
			cause = error instanceof Error && error.name === "AbortError" ? controller.signal.reason : error;
		} finally {
			if (idle !== undefined) clearTimeout(idle);
			options.signal?.removeEventListener("abort", abort);
			controller.abort();
			ticket.release();
		}
		if (openedAt !== undefined && context.now() - openedAt >= stableAfterMs) failures = 0;
		const delayMs = Math.max(waitAtLeast, backoffDelay(failures, context.random, context.backoff));
		options.onReconnect?.({ attempt: failures, delayMs, lastEventId, cause });
		failures++;
		await wait(delayMs, options.signal);
	}
}

/** An error answer the stream cannot get past by reconnecting (a bad token, no access). */
function isTerminal(error: unknown): boolean {
	return typeof error === "object" && error !== null && "status" in error && typeof error.status === "number";
}

function safeJson(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return undefined;
	}
}

function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
	return new Promise((resolve) => {
		if (signal?.aborted) return resolve();
		const timer = setTimeout(done, timerDelay(ms));
		function done() {
			clearTimeout(timer);
			signal?.removeEventListener("abort", done);
			resolve();
		}
		signal?.addEventListener("abort", done, { once: true });
	});
}
