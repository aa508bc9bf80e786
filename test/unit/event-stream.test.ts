import { afterEach, describe, expect, it, vi } from "vitest";
import { DISCONNECT_PROBE_MS, eventStream, HEARTBEAT_MS } from "../../workers/events/routes";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** An eventStream over an upstream the test feeds, with an admission that counts its calls. */
function harness(renew: () => Promise<boolean> = async () => true) {
	let feed!: ReadableStreamDefaultController<Uint8Array>;
	let upstreamCancelled = false;
	const upstream = new ReadableStream<Uint8Array>({
		start: (controller) => {
			feed = controller;
		},
		cancel: () => {
			upstreamCancelled = true;
		},
	});
	const calls = { release: 0, renew: 0 };
	const admission = {
		release: async () => {
			calls.release++;
		},
		renew: () => {
			calls.renew++;
			return renew();
		},
	};
	const client = new AbortController();
	const pending: Promise<unknown>[] = [];
	const stream = eventStream(admission, upstream, client.signal, (promise) => pending.push(promise));
	const reader = stream.getReader();
	return {
		feed,
		calls,
		client,
		reader,
		upstreamCancelled: () => upstreamCancelled,
		settled: () => Promise.all(pending),
		read: async () => {
			const { done, value } = await reader.read();
			return done ? null : decoder.decode(value);
		},
	};
}

afterEach(() => {
	vi.useRealTimers();
});

describe("eventStream", () => {
	it("a client that leaves (the request's signal) releases the slot once and cancels the upstream", async () => {
		const h = harness();
		expect(await h.read()).toContain(": connected");
		h.client.abort();
		await h.reader.cancel();
		await h.settled();
		expect(h.calls.release).toBe(1);
		expect(h.upstreamCancelled()).toBe(true);
	});

	it("the signal alone ends the stream: the client side reads its end", async () => {
		const h = harness();
		await h.read();
		h.client.abort();
		expect(await h.read()).toBeNull();
		await h.settled();
		expect(h.calls.release).toBe(1);
	});

	it("an upstream that ends closes the client's stream and releases the slot", async () => {
		const h = harness();
		await h.read();
		h.feed.enqueue(encoder.encode("event: x\ndata: {}\n\n"));
		expect(await h.read()).toBe("event: x\ndata: {}\n\n");
		h.feed.close();
		expect(await h.read()).toBeNull();
		await h.settled();
		expect(h.calls.release).toBe(1);
	});

	it("an upstream that fails closes the client's stream and releases the slot", async () => {
		const h = harness();
		await h.read();
		h.feed.error(new Error("AccountEvents reset"));
		expect(await h.read()).toBeNull();
		await h.settled();
		expect(h.calls.release).toBe(1);
	});

	it("probes an idle stream every half second, but never inside an event split across chunks", async () => {
		vi.useFakeTimers();
		const h = harness();
		await h.read();
		vi.advanceTimersByTime(DISCONNECT_PROBE_MS);
		expect(await h.read()).toBe(":\n");
		h.feed.enqueue(encoder.encode("event: x\nda"));
		expect(await h.read()).toBe("event: x\nda");
		vi.advanceTimersByTime(DISCONNECT_PROBE_MS);
		h.feed.enqueue(encoder.encode("ta: {}\n\n"));
		// Without a probe in between: the event's halves arrive back to back.
		expect(await h.read()).toBe("ta: {}\n\n");
		vi.advanceTimersByTime(DISCONNECT_PROBE_MS);
		expect(await h.read()).toBe(":\n");
		h.client.abort();
	});

	it("a heartbeat that finds the lease gone ends the stream", async () => {
		vi.useFakeTimers();
		const h = harness(async () => false);
		await h.read();
		vi.advanceTimersByTime(HEARTBEAT_MS);
		let text = "";
		for (let chunk = await h.read(); chunk !== null; chunk = await h.read()) text += chunk;
		expect(text).toContain(": heartbeat");
		expect(h.calls.renew).toBe(1);
		await h.settled();
		expect(h.calls.release).toBe(1);
	});
});
