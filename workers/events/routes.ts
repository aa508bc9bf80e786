import type { Admission } from "../guard/guard";
import { type Route, route } from "../routing/route";

/**
 * How often a stream renews its slot, which also re-checks its token: a stream whose token
 * was revoked or expired closes within this, even with no event to send. Far below the
 * lease (120 s), so a live stream never lets its slot lapse. A renewal reads the token from
 * its guard's cache, so D1 is read once a minute per token, not at every renewal.
 */
export const HEARTBEAT_MS = 2_000;

/**
 * workerd hears that a client left only when a write to it fails (it may take two): then it
 * aborts request.signal and cancels the body. An idle stream writes a two-byte SSE comment
 * this often so that a client's leaving frees its slot within the spec's 2 s, not at the
 * next heartbeat.
 */
export const DISCONNECT_PROBE_MS = 500;

const encoder = new TextEncoder();
const PROBE = encoder.encode(":\n");
const NEWLINE = 10;

/** Whether `chunk` ends an SSE event (a blank line), so a comment line may follow it. */
const endsEvent = (chunk: Uint8Array) => chunk.at(-1) === NEWLINE && chunk.at(-2) === NEWLINE;

/**
 * A Server-Sent Events stream that holds one connection slot while open. Whichever comes
 * first ends it and releases the slot once: the client leaving (`disconnected`, the request's
 * abort signal, or `cancel()`: heard at the next probe), the upstream (the account's
 * AccountEvents stream) ending or failing, or a renewal refused (the lease gone, or the
 * token revoked or expired). The heartbeat renews the lease, so a stream whose Worker dies
 * frees its slot when it runs out; each upstream chunk is renewed for before it is sent, so
 * no event published after its token's revocation answered reaches the stream.
 */
export function eventStream(
	admission: Pick<Admission, "release" | "renew">,
	events: ReadableStream<Uint8Array>,
	disconnected: AbortSignal,
	waitUntil: (promise: Promise<unknown>) => void,
): ReadableStream<Uint8Array> {
	const timers: ReturnType<typeof setInterval>[] = [];
	let closed = false;
	// Probes go between events only: upstream chunks need not end where its events do.
	let betweenEvents = true;
	let output: ReadableStreamDefaultController<Uint8Array> | undefined;
	const upstream = events.getReader();
	const finish = () => {
		if (closed) return;
		closed = true;
		for (const timer of timers) clearInterval(timer);
		disconnected.removeEventListener("abort", finish);
		try {
			output?.close();
		} catch {
			// Already cancelled or closed: either way the client is done.
		}
		waitUntil(upstream.cancel().catch(() => undefined));
		waitUntil(
			admission.release().catch((error: unknown) => {
				// The lease runs out on its own: a failed release only delays the slot.
				console.warn("event stream slot release failed", error instanceof Error ? error.message : String(error));
			}),
		);
	};
	return new ReadableStream<Uint8Array>({
		start(controller) {
			output = controller;
			if (disconnected.aborted) return finish();
			disconnected.addEventListener("abort", finish);
			controller.enqueue(encoder.encode(`retry: 5000\n: connected ${new Date().toISOString()}\n\n`));
			const write = (bytes: Uint8Array) => {
				if (!closed && betweenEvents) controller.enqueue(bytes);
			};
			timers.push(
				setInterval(() => {
					try {
						write(PROBE);
					} catch {
						finish();
					}
				}, DISCONNECT_PROBE_MS),
				setInterval(async () => {
					try {
						write(encoder.encode(`: heartbeat ${new Date().toISOString()}\n\n`));
						if (!(await admission.renew())) finish();
					} catch {
						finish();
					}
				}, HEARTBEAT_MS),
			);
			waitUntil(
				(async () => {
					for (;;) {
						const { done, value } = await upstream.read();
						if (done || closed) break;
						// The heartbeat alone would let events through for up to HEARTBEAT_MS after a
						// revocation; a cached token makes this check one Durable Object call, no D1 read.
						if (!(await admission.renew()) || closed) break;
						controller.enqueue(value);
						betweenEvents = endsEvent(value);
					}
				})()
					.catch(() => undefined)
					// An upstream that ended or failed leaves nothing to stream: a silent stream would
					// hold a slot for nothing. Closing it makes EventSource reconnect (after `retry`).
					.finally(finish),
			);
		},
		cancel: finish,
	});
}

/** Longer ids are cut: none of ours is near it, and a cut id is just one no longer kept. */
const MAX_LAST_EVENT_ID = 200;

const events = route({
	method: "GET",
	path: "/api/pbx/events",
	summary:
		"Server-Sent Events stream of the account's call and campaign events; holds one connection slot while open. Each event has an `id:` line; a client that reconnects with `Last-Event-ID` first gets the events published after it (kept 15 minutes, at most 1,000). Every stream then sends its position, an `id: pos_<n>` line without data (n: the account's events published so far), before any live event: a client that reconnects with it gets what was published after the stream opened, even if the stream ended before its first event. An id no longer kept (or a position whose following events are not) gets a `stream.gap` event (no id) before every kept event.",
	tags: ["pbx"],
	holdsConnection: true,
	headers: ["Last-Event-ID"],
	responses: { 200: { description: "Server-Sent Events, until the client leaves", mediaType: "text/event-stream" } },
	async handler({ admission, ctx, env, principal, request }) {
		const lastEventId = request.headers.get("Last-Event-ID")?.slice(0, MAX_LAST_EVENT_ID);
		const events = await env.ACCOUNT_EVENTS.get(env.ACCOUNT_EVENTS.idFromName(principal.accountId)).subscribe(
			lastEventId || undefined,
		);
		return new Response(
			eventStream(admission, events, request.signal, (promise) => ctx.waitUntil(promise)),
			{
				headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" },
			},
		);
	},
});

export const eventRoutes: Route[] = [events];
