import { describe, expect, it } from "vitest";
import { SseParser } from "../../sdk/src/sse";

describe("the event-stream parser (the SDK's iterator and the console)", () => {
	it("reads the server's frames: comments skipped, id, event and JSON data", () => {
		const parser = new SseParser();
		const messages = parser.feed(
			'retry: 5000\n: connected 2030-01-01T00:00:00Z\n\n:\nid: evt_1\nevent: call.started\ndata: {"id":"evt_1"}\n\n: heartbeat\n\n',
		);
		expect(messages).toEqual([{ event: "call.started", data: '{"id":"evt_1"}', id: "evt_1" }]);
		expect(parser.lastEventId).toBe("evt_1");
	});

	it("joins a message split anywhere across chunks, CRLF split between two included", () => {
		const text = "id: a\r\nevent: x\r\ndata: one\r\ndata: two\r\n\r\nid: b\rdata: three\r\r";
		for (let cut = 1; cut < text.length; cut++) {
			const parser = new SseParser();
			const messages = [...parser.feed(text.slice(0, cut)), ...parser.feed(text.slice(cut))];
			expect(messages).toEqual([
				{ event: "x", data: "one\ntwo", id: "a" },
				{ event: "message", data: "three", id: "b" },
			]);
		}
	});

	it("a frame without data is not dispatched, but its id counts; a frame without id keeps the last one", () => {
		const parser = new SseParser();
		expect(parser.feed("id: 7\n\n")).toEqual([]);
		expect(parser.lastEventId).toBe("7");
		expect(parser.feed('event: stream.gap\ndata: {"type":"stream.gap"}\n\n')).toEqual([
			{ event: "stream.gap", data: '{"type":"stream.gap"}' },
		]);
		expect(parser.lastEventId).toBe("7");
	});

	it("field details: no space after the colon, a bare field name, retry only as digits", () => {
		const parser = new SseParser();
		expect(parser.feed("data:x\ndata\nretry: 10\nretry: soon\n\n")).toEqual([{ event: "message", data: "x\n", retry: 10 }]);
	});

	it("moves lastEventId only when a frame ends: a stream lost after an id: line resumes before that event", () => {
		const parser = new SseParser();
		expect(parser.feed("id: evt_0\n: connected\n\n")).toEqual([]);
		expect(parser.lastEventId).toBe("evt_0");
		expect(parser.feed("id: evt_1\nevent: call.started\n")).toEqual([]);
		expect(parser.lastEventId).toBe("evt_0");
		expect(parser.feed("data: {}\n\nevent: stream.gap\ndata: {}\n\n")).toEqual([
			{ event: "call.started", data: "{}", id: "evt_1" },
			{ event: "stream.gap", data: "{}" },
		]);
		expect(parser.lastEventId).toBe("evt_1");
	});

	it("resumes after the id it was given, and keeps the stream's retry", () => {
		const parser = new SseParser("evt_9");
		expect(parser.lastEventId).toBe("evt_9");
		expect(parser.feed("retry: 5000\ndata: x\n\n")).toEqual([{ event: "message", data: "x", retry: 5000 }]);
		expect(parser.lastEventId).toBe("evt_9");
		expect(parser.retryMs).toBe(5000);
	});
});
