import { SseParser } from "../../sdk/src/sse";
import { currentToken } from "./auth";
import type { AccountEvent } from "./types";

export type StreamState = "connecting" | "live" | "reconnecting" | "stopped";

type Listener = (event: AccountEvent) => void;
const listeners = new Set<Listener>();
const stateListeners = new Set<(state: StreamState) => void>();
const gapListeners = new Set<() => void>();
/** The frame the server sends a stream that resumes after an event it no longer keeps (docs/webhooks.md). */
const STREAM_GAP = "stream.gap";
let state: StreamState = "stopped";
let controller: AbortController | undefined;

export const streamState = () => state;

function setState(next: StreamState) {
	state = next;
	for (const listener of stateListeners) listener(next);
}

export function onStreamState(listener: (state: StreamState) => void): () => void {
	stateListeners.add(listener);
	return () => stateListeners.delete(listener);
}

export function onAccountEvent(listener: Listener): () => void {
	listeners.add(listener);
	return () => listeners.delete(listener);
}

/**
 * Events may have been missed: the server said so (`stream.gap`), or the stream came back with
 * no id to resume from. Whoever keeps state built from events reads it again then, and only then:
 * a reconnection that resumes with Last-Event-ID gets the missed events replayed.
 */
export function onStreamGap(listener: () => void): () => void {
	gapListeners.add(listener);
	return () => gapListeners.delete(listener);
}

const gap = () => {
	for (const listener of gapListeners) listener();
};

/**
 * The account's event stream, one per tab (it holds one of the token's connection slots).
 * EventSource cannot send an Authorization header and the token never goes in a URL, so the
 * stream is read with fetch. It reconnects with backoff (the server's `retry`, doubling to
 * 30 s, sooner after a stream that lived a while) until `stopEvents` or a 401, sending the last
 * id it saw as Last-Event-ID, so the server replays what was published in between.
 */
export function startEvents(): void {
	stopEvents();
	const own = new AbortController();
	controller = own;
	void run(own.signal);
}

export function stopEvents(): void {
	controller?.abort();
	controller = undefined;
	setState("stopped");
}

async function run(signal: AbortSignal): Promise<void> {
	let failures = 0;
	let retryMs = 1_000;
	// Kept across connections (one run is one token's): where the next connection resumes.
	let lastEventId: string | undefined;
	let wasLive = false;
	while (!signal.aborted) {
		const token = currentToken();
		if (!token) break;
		setState(failures === 0 ? "connecting" : "reconnecting");
		const openedAt = Date.now();
		let retryAfterMs = 0;
		const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: "text/event-stream" };
		if (lastEventId) headers["Last-Event-ID"] = lastEventId;
		try {
			const response = await fetch("/api/pbx/events", { headers, signal, cache: "no-store" });
			if (response.status === 401) break;
			if (!response.ok || !response.body) {
				// Too many connections (the cap) or a limit: never back sooner than the server asks.
				retryAfterMs = Number(response.headers.get("Retry-After") ?? "0") * 1000;
				throw new Error(`HTTP ${response.status}`);
			}
			setState("live");
			// Back without an id to resume from: what was published while down cannot be replayed.
			if (wasLive && !lastEventId) gap();
			wasLive = true;
			const parser = new SseParser(lastEventId);
			const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
			try {
				for (;;) {
					const { done, value } = await reader.read();
					if (done) break;
					for (const message of parser.feed(value)) {
						if (message.event === STREAM_GAP) gap();
						else deliver(message.data);
					}
					lastEventId = parser.lastEventId;
				}
			} finally {
				lastEventId = parser.lastEventId;
				retryMs = parser.retryMs ?? retryMs;
			}
		} catch {
			if (signal.aborted) return;
		}
		// A stream that stayed up a while was not failing: start the backoff again.
		failures = Date.now() - openedAt > 30_000 ? 1 : failures + 1;
		setState("reconnecting");
		const backoff = Math.max(retryAfterMs, Math.min(30_000, retryMs * 2 ** (failures - 1)));
		await new Promise((resolve) => setTimeout(resolve, backoff * (0.8 + Math.random() * 0.4)));
	}
	if (!signal.aborted) setState("stopped");
}

function deliver(data: string): void {
	let event: AccountEvent;
	try {
		event = JSON.parse(data) as AccountEvent;
	} catch {
		return;
	}
	for (const listener of listeners) listener(event);
}
