import { afterEach, describe, expect, it, vi } from "vitest";

/**
 * console/src/events.ts, loaded by a path the root project does not type-check: it reaches
 * auth.ts, which needs the DOM library only the console's own tsconfig has.
 */
const EVENTS_MODULE = "../../console/src/events";
const { startEvents, stopEvents }: { startEvents(): void; stopEvents(): void } = await import(/* @vite-ignore */ EVENTS_MODULE);

/** The tab's sessionStorage, holding a signed-in token (the console reads it before each connection). */
function signedIn(): void {
	const stored = new Map<string, string>([["callgate.console.token", "cgs_review"]]);
	vi.stubGlobal("sessionStorage", {
		getItem: (key: string) => stored.get(key) ?? null,
		setItem: (key: string, value: string) => stored.set(key, value),
		removeItem: (key: string) => stored.delete(key),
	});
}

/** A stream that sends one event with an id, asks for a 1 ms retry, and ends (the server restarted, say). */
const oneEventThenClose = () =>
	new Response(
		`retry: 1\n\nid: evt_41\nevent: contact.skipped\ndata: ${JSON.stringify({ id: "evt_41", type: "contact.skipped", data: {} })}\n\n`,
		{ headers: { "Content-Type": "text/event-stream" } },
	);

afterEach(() => {
	stopEvents();
	vi.unstubAllGlobals();
});

describe("the console's event stream after a drop", () => {
	it("reconnects with Last-Event-ID, so the server replays what was published during the gap", async () => {
		signedIn();
		const requests: Headers[] = [];
		vi.stubGlobal("fetch", async (_url: string, init: RequestInit) => {
			requests.push(new Headers(init.headers));
			if (requests.length === 1) return oneEventThenClose();
			// The second connection stays open until the test stops the stream.
			return new Response(new ReadableStream({ start() {} }), { headers: { "Content-Type": "text/event-stream" } });
		});
		startEvents();
		await vi.waitFor(() => expect(requests.length).toBe(2), { timeout: 5_000 });
		expect(requests[1]?.get("Last-Event-ID")).toBe("evt_41");
	});
});
