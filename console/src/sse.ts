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
 * `lastEventId` is what a reconnection sends as Last-Event-ID: set when a frame ends, from its
 * `id:` line or an earlier one, also by a frame without data (an `id:` alone, or with a comment,
 * lets a client resume from before any event).
 */
export class SseParser {
	private pending = "";
	private data: string[] = [];
	private event = "";
	private idBuffer: string | undefined;
	/** The id of the last complete frame that had one (or an inherited one); undefined before any. */
	lastEventId: string | undefined;
	retryMs: number | undefined;

	/** Resumes after `id` (the last one a previous connection saw). */
	constructor(lastEventId?: string) {
		this.idBuffer = lastEventId;
		this.lastEventId = lastEventId;
	}

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
		else if (field === "id" && !value.includes("\0")) this.idBuffer = value;
		else if (field === "retry" && /^\d+$/.test(value)) this.retryMs = Number(value);
		return undefined;
	}

	private dispatch(): SseMessage | undefined {
		const data = this.data;
		const event = this.event || "message";
		this.data = [];
		this.event = "";
		// As the standard has it: the id is taken at the end of every frame, with data or not.
		this.lastEventId = this.idBuffer;
		return data.length ? { id: this.idBuffer, event, data: data.join("\n") } : undefined;
	}
}
