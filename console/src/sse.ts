/** One Server-Sent Events message, as the stream framed it. */
export interface SseMessage {
	id: string | undefined;
	event: string;
	data: string;
}

/**
 * The event-stream format's parser (the WHATWG rules): text is pushed as it arrives, in chunks
 * that need not end on a line, and each complete message comes back once. Comments (`:`, the
 * server's heartbeats) and messages without data are dropped; `retry` is kept for reconnecting.
 */
export class SseParser {
	private pending = "";
	private data: string[] = [];
	private event = "";
	private lastId: string | undefined;
	retryMs: number | undefined;

	push(chunk: string): SseMessage[] {
		const messages: SseMessage[] = [];
		this.pending += chunk;
		for (;;) {
			const end = this.pending.search(/\r\n|\r|\n/);
			// A lone \r at the end may be the first half of \r\n: wait for the next chunk.
			if (end < 0 || (end === this.pending.length - 1 && this.pending.endsWith("\r"))) break;
			const line = this.pending.slice(0, end);
			const newline = this.pending.startsWith("\r\n", end) ? 2 : 1;
			this.pending = this.pending.slice(end + newline);
			const message = this.line(line);
			if (message) messages.push(message);
		}
		return messages;
	}

	private line(line: string): SseMessage | undefined {
		if (line === "") return this.dispatch();
		if (line.startsWith(":")) return undefined;
		const colon = line.indexOf(":");
		const field = colon < 0 ? line : line.slice(0, colon);
		let value = colon < 0 ? "" : line.slice(colon + 1);
		if (value.startsWith(" ")) value = value.slice(1);
		if (field === "data") this.data.push(value);
		else if (field === "event") this.event = value;
		else if (field === "id" && !value.includes("\0")) this.lastId = value;
		else if (field === "retry" && /^\d+$/.test(value)) this.retryMs = Number(value);
		return undefined;
	}

	private dispatch(): SseMessage | undefined {
		const data = this.data;
		const event = this.event || "message";
		this.data = [];
		this.event = "";
		return data.length ? { id: this.lastId, event, data: data.join("\n") } : undefined;
	}
}
