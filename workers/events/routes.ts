import type { Admission } from "../guard/guard";
import { type Route, route } from "../routing/route";

/** Below the connection lease (120 s), so a live stream renews its slot long before it lapses. */
export const HEARTBEAT_MS = 15_000;

const encoder = new TextEncoder();

/**
 * A Server-Sent Events stream that holds one connection slot while open. The slot is
 * released when the client goes away (cancel) and renewed on every heartbeat, so a stream
 * whose Worker dies frees its slot when the lease runs out.
 */
function eventStream(
	admission: Admission,
	events: ReadableStream<Uint8Array>,
	waitUntil: (promise: Promise<unknown>) => void,
): ReadableStream<Uint8Array> {
	let timer: ReturnType<typeof setInterval> | undefined;
	let closed = false;
	const upstream = events.getReader();
	const finish = () => {
		if (closed) return;
		closed = true;
		if (timer !== undefined) clearInterval(timer);
		waitUntil(upstream.cancel().catch(() => undefined));
		waitUntil(admission.release());
	};
	return new ReadableStream<Uint8Array>({
		start(controller) {
			controller.enqueue(encoder.encode(`retry: 5000\n: connected ${new Date().toISOString()}\n\n`));
			timer = setInterval(async () => {
				try {
					controller.enqueue(encoder.encode(`: heartbeat ${new Date().toISOString()}\n\n`));
					if (!(await admission.renew())) {
						controller.close();
						finish();
					}
				} catch {
					finish();
				}
			}, HEARTBEAT_MS);
			waitUntil(
				(async () => {
					for (;;) {
						const { done, value } = await upstream.read();
						if (done || closed) break;
						controller.enqueue(value);
					}
				})().catch(finish),
			);
		},
		cancel: finish,
	});
}

const events = route({
	method: "GET",
	path: "/api/pbx/events",
	summary: "Server-Sent Events stream of the account's call and campaign events; holds one connection slot while open.",
	tags: ["pbx"],
	holdsConnection: true,
	responses: { 200: { description: "Server-Sent Events, until the client leaves", mediaType: "text/event-stream" } },
	async handler({ admission, ctx, env, principal }) {
		const events = await env.ACCOUNT_EVENTS.get(env.ACCOUNT_EVENTS.idFromName(principal.accountId)).subscribe();
		return new Response(
			eventStream(admission, events, (promise) => ctx.waitUntil(promise)),
			{
				headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" },
			},
		);
	},
});

export const eventRoutes: Route[] = [events];
