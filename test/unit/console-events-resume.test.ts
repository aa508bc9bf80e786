import { afterEach, describe, expect, it, vi } from "vitest";

/**
 * console/src/events.ts, loaded by a path the root project does not type-check: it reaches
 * auth.ts, which needs the DOM library only the console's own tsconfig has.
 */
const EVENTS_MODULE = "../../console/src/events";
const {
	startEvents,
	stopEvents,
	onStreamGap,
	onAccountEvent,
}: {
	startEvents(): void;
	stopEvents(): void;
	onStreamGap(listener: () => void): () => void;
	onAccountEvent(listener: (event: { type: string }) => void): () => void;
} = await import(/* @vite-ignore */ EVENTS_MODULE);

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

/** A stream that sends `text` and ends. */
const streamOf = (text: string) => new Response(text, { headers: { "Content-Type": "text/event-stream" } });
/** A stream that stays open until the test stops it. */
const openStream = () => new Response(new ReadableStream({ start() {} }), { headers: { "Content-Type": "text/event-stream" } });

/** Answers the connections with `answers` in turn (then streams that stay open), recording each request's headers. */
function server(answers: (() => Response)[]): Headers[] {
	const requests: Headers[] = [];
	vi.stubGlobal("fetch", async (_url: string, init: RequestInit) => {
		requests.push(new Headers(init.headers));
		return (answers[requests.length - 1] ?? openStream)();
	});
	return requests;
}

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

	it("resumes after an id sent without data (the stream's first frame), and keeps the id across several drops", async () => {
		signedIn();
		const requests = server([
			() => streamOf("retry: 1\nid: evt_7\n: connected\n\n"),
			// A connection that ends before any frame: the id from before it still holds.
			() => streamOf(""),
		]);
		startEvents();
		await vi.waitFor(() => expect(requests.length).toBe(3), { timeout: 5_000 });
		expect(requests[0]?.get("Last-Event-ID")).toBeNull();
		expect(requests[1]?.get("Last-Event-ID")).toBe("evt_7");
		expect(requests[2]?.get("Last-Event-ID")).toBe("evt_7");
	});

	it("tells the gap listeners on a stream.gap frame, which is no account event, and not on a reconnection that resumes", async () => {
		signedIn();
		const gaps: number[] = [];
		const events: string[] = [];
		const offGap = onStreamGap(() => gaps.push(Date.now()));
		const offEvents = onAccountEvent((event) => events.push(event.type));
		const gapFrame = `event: stream.gap\ndata: ${JSON.stringify({ type: "stream.gap", last_event_id: "evt_41", message: "m" })}\n\n`;
		const requests = server([
			oneEventThenClose,
			// The resumed connection: nothing was missed, no gap.
			() => streamOf("retry: 1\n\n"),
			() => streamOf(`retry: 1\n\n${gapFrame}`),
		]);
		try {
			startEvents();
			await vi.waitFor(() => expect(requests.length).toBe(4), { timeout: 5_000 });
			expect(gaps).toHaveLength(1);
			expect(events).toEqual(["contact.skipped"]);
			// The gap frame has no id: the next connection still resumes after the last event.
			expect(requests[3]?.get("Last-Event-ID")).toBe("evt_41");
		} finally {
			offGap();
			offEvents();
		}
	});

	it("a reconnection with no id to resume from is a gap: what was published meanwhile cannot be replayed", async () => {
		signedIn();
		const gaps: number[] = [];
		const offGap = onStreamGap(() => gaps.push(Date.now()));
		const requests = server([() => streamOf("retry: 1\n\n")]);
		try {
			startEvents();
			await vi.waitFor(() => expect(requests.length).toBe(2), { timeout: 5_000 });
			await vi.waitFor(() => expect(gaps).toHaveLength(1), { timeout: 5_000 });
			expect(requests[1]?.get("Last-Event-ID")).toBeNull();
		} finally {
			offGap();
		}
	});
});
