import { describe, expect, it } from "vitest";
import { Callgate } from "../../sdk/src/client";
import { RateLimitError } from "../../sdk/src/errors";

// The event iterator against fetches that model GET /api/pbx/events as workers/events/routes.ts
// and AccountEvents serve it; only the SDK's logic is under test.

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
	new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

const fast = { baseMs: 1, capMs: 2, jitterMs: 0 };
const encoder = new TextEncoder();
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
const frame = (id: string) => `id: ${id}\nevent: call.completed\ndata: ${JSON.stringify({ id, type: "call.completed" })}\n\n`;

/** A stream answer: `text`, then closed unless `open`; it errors when the request is aborted. */
function stream(text: string, init: RequestInit | undefined, open = false): Response {
	const body = new ReadableStream<Uint8Array>({
		start(controller) {
			controller.enqueue(encoder.encode(text));
			if (!open) controller.close();
			else init?.signal?.addEventListener("abort", () => controller.error(init.signal?.reason));
		},
	});
	return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

describe("events(): resuming", () => {
	it("a connection that ends before its first event resumes from the position the server opened it with: nothing missed", async () => {
		// The server keeps a log; every stream's replay ends with `id: pos_<n>` (n events published so far),
		// and a Last-Event-ID (an event's id or a position) replays what came after it.
		const log: string[] = [];
		let connections = 0;
		const lastEventIds: (string | null)[] = [];
		const fetch = (async (_input: RequestInfo | URL, init?: RequestInit) => {
			connections++;
			const last = new Headers(init?.headers).get("Last-Event-ID");
			lastEventIds.push(last);
			const from = last === null ? log.length : last.startsWith("pos_") ? Number(last.slice(4)) : log.indexOf(last) + 1;
			const opening = `retry: 5000\n: connected\n\n${log.slice(from).map(frame).join("")}id: pos_${log.length}\n\n`;
			if (connections === 1) {
				// The first connection drops before any event: the event goes out while no stream is open.
				const response = stream(opening, init);
				log.push("evt_1");
				return response;
			}
			log.push("evt_2");
			return stream(opening + frame("evt_2"), init, true);
		}) as typeof globalThis.fetch;
		const client = new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch, backoff: fast });
		const seen: string[] = [];
		for await (const event of client.events()) {
			seen.push((event as { id: string }).id);
			if (seen.includes("evt_2")) break;
		}
		expect(seen).toEqual(["evt_1", "evt_2"]);
		expect(lastEventIds).toEqual([null, "pos_0"]);
	});
});

describe("events(): connection slots and stopping", () => {
	it("aborting the signal while the consumer holds the iterator at a yield frees its connection slot", async () => {
		const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
			const url = new URL(new Request(input, init).url);
			if (url.pathname === "/api/pbx/events")
				return stream('id: evt_1\ndata: {"id":"evt_1","type":"x","created_at":"","data":{}}\n\n', init, true);
			return json(200, { data: [] }, { ETag: '"e"' });
		}) as typeof globalThis.fetch;
		const client = new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch, maxConnections: 1 });
		const stop = new AbortController();
		const events = client.events({ signal: stop.signal });
		await events.next();
		expect(client.inFlight).toBe(1);
		stop.abort();
		await tick();
		expect(client.inFlight).toBe(0);
		const outcome = await Promise.race([
			client.get("/api/pbx/users").then(() => "answered"),
			tick()
				.then(tick)
				.then(() => "stalled"),
		]);
		expect(outcome).toBe("answered");
		// The iterator, resumed after all, ends quietly and frees nothing twice.
		expect(await events.next()).toEqual({ done: true, value: undefined });
		expect(client.inFlight).toBe(0);
	});

	it("aborting while it waits for a connection slot ends it quietly", async () => {
		let answer: (response: Response) => void = () => undefined;
		const fetch = (async () =>
			await new Promise<Response>((resolve) => {
				answer = resolve;
			})) as typeof globalThis.fetch;
		const client = new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch, maxConnections: 1 });
		const busy = client.get("/api/pbx/users");
		await tick();
		const stop = new AbortController();
		const next = client.events({ signal: stop.signal }).next();
		await tick();
		stop.abort();
		await expect(next).resolves.toEqual({ done: true, value: undefined });
		answer(json(200, { data: [] }));
		await busy;
	});

	it("the stream's 429 for the connection cap holds back every request for its Retry-After, not only the pbx group's", async () => {
		const sent: string[] = [];
		const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
			const url = new URL(new Request(input, init).url);
			sent.push(url.pathname);
			if (url.pathname === "/api/pbx/events")
				return json(429, { message: "Too many concurrent connections (20). Retry after 60 seconds." }, { "Retry-After": "60" });
			return json(200, { data: [] });
		}) as typeof globalThis.fetch;
		const client = new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch });
		const stop = new AbortController();
		const events = client.events({ signal: stop.signal }).next();
		await tick();
		const other = client.get("/api/telesales/campaigns", { signal: stop.signal }).catch(() => "aborted");
		await tick();
		expect(sent).toEqual(["/api/pbx/events"]);
		stop.abort();
		expect(await other).toBe("aborted");
		await events;
	});

	it("a Retry-After beyond the client's ceiling ends the iterator with RateLimitError", async () => {
		const fetch = (async () =>
			json(429, { message: "Too many requests." }, { "Retry-After": "2500000" })) as typeof globalThis.fetch;
		const client = new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch });
		await expect(client.events().next()).rejects.toBeInstanceOf(RateLimitError);
	});
});

describe("events(): reconnect backoff", () => {
	it("grows while connections end without an event; starts again after one delivered or stayed open stableAfterMs", async () => {
		let clock = 0;
		let connections = 0;
		const fetch = (async (_input: RequestInfo | URL, init?: RequestInit) => {
			connections++;
			// 1-3 accept and close at once; 4 delivers an event; 5 and 6 close at once; 7 stays open 30 s.
			if (connections === 4) return stream(`: connected\n\nid: pos_0\n\n${frame("evt_1")}`, init);
			if (connections === 7) {
				const body = new ReadableStream<Uint8Array>({
					start: (controller) => controller.enqueue(encoder.encode(": connected\n\nid: pos_0\n\n")),
					// Read once it is open: the server holds it 30 s, then closes it.
					pull: (controller) => {
						clock += 30_000;
						controller.close();
					},
				});
				return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
			}
			return stream(": connected\n\nid: pos_0\n\n", init);
		}) as typeof globalThis.fetch;
		const client = new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch, backoff: fast, now: () => clock });
		const attempts: number[] = [];
		const stop = new AbortController();
		const iterator = client.events({
			signal: stop.signal,
			onReconnect: ({ attempt }) => {
				attempts.push(attempt);
				if (attempts.length === 7) stop.abort();
			},
		});
		for await (const _event of iterator) {
			// Only the fourth connection's event.
		}
		expect(attempts).toEqual([0, 1, 2, 0, 1, 2, 0]);
	});
});
