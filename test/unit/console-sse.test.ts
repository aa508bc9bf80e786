import { describe, expect, it } from "vitest";
import { SseParser } from "../../console/src/sse";

const frame = (id: string, type: string, data: unknown) => `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;

describe("the console's event-stream parser", () => {
	it("reads the server's frames, skipping its comments and heartbeats", () => {
		const parser = new SseParser();
		const text = `retry: 5000\n: connected 2026-11-24T10:00:00Z\n\n${frame("evt_1", "call.started", { id: "evt_1" })}:\n: heartbeat x\n\n${frame("evt_2", "call.completed", { id: "evt_2" })}`;
		const messages = parser.push(text);
		expect(messages).toEqual([
			{ id: "evt_1", event: "call.started", data: '{"id":"evt_1"}' },
			{ id: "evt_2", event: "call.completed", data: '{"id":"evt_2"}' },
		]);
		expect(parser.retryMs).toBe(5000);
	});

	it("gives the same messages however the text is cut into chunks", () => {
		const text = `${frame("a", "x", { n: 1 })}:\n${frame("b", "y", { n: "two\u00e9" })}`.replaceAll("\n", "\r\n");
		const whole = new SseParser().push(text);
		expect(whole).toHaveLength(2);
		for (let size = 1; size <= 7; size++) {
			const parser = new SseParser();
			const messages = [];
			for (let at = 0; at < text.length; at += size) messages.push(...parser.push(text.slice(at, at + size)));
			expect(messages).toEqual(whole);
		}
	});

	it("joins multi-line data, defaults the event name, and holds an unfinished message", () => {
		const parser = new SseParser();
		expect(parser.push("data: one\ndata:two\n")).toEqual([]);
		expect(parser.push("\n")).toEqual([{ id: undefined, event: "message", data: "one\ntwo" }]);
		expect(parser.push("event: lonely\n\n")).toEqual([]);
	});

	it("keeps the id of a frame without data, and of a later frame that inherits it, for Last-Event-ID", () => {
		const parser = new SseParser();
		expect(parser.lastEventId).toBeUndefined();
		expect(parser.push("id: evt_0\n: connected\n\n")).toEqual([]);
		expect(parser.lastEventId).toBe("evt_0");
		// An unfinished frame's id is not yet the last one.
		expect(parser.push("id: evt_1\nretry: 10")).toEqual([]);
		expect(parser.lastEventId).toBe("evt_0");
		expect(parser.push("\n\nevent: stream.gap\ndata: {}\n\n")).toEqual([{ id: "evt_1", event: "stream.gap", data: "{}" }]);
		expect(parser.lastEventId).toBe("evt_1");
		expect(new SseParser("evt_9").push("data: x\n\n")).toEqual([{ id: "evt_9", event: "message", data: "x" }]);
	});
});
