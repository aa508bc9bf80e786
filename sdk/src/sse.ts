/** One dispatched Server-Sent Events message. */
export interface SseMessage {
	/** The `event:` field ("message" when absent). */
	event: string;
	data: string;
	/** The `id:` field of this message's own frame, if it had one (what dedupe keys on). */
	id?: string;
	/** A `retry:` field (ms) seen with it. */
	retry?: number;
}

/**
 * The WHATWG event-stream format, fed chunk by chunk: lines end with CRLF, LF or CR; a blank
 * line dispatches; `:` lines are comments; `data:` lines join with "\n"; a message with no
 * data is not dispatched. Shared by the SDK's event iterator and the console.
 *
 * `lastEventId` is what a reconnection sends as Last-Event-ID. As for EventSource it moves only
 * when a frame ends (with data or not, so the server's opening `id:` counts) and is inherited
 * by frames without an `id:`: a connection lost between a frame's `id:` line and its end must
 * not resume past the event it never delivered.
 */
export class SseParser {
	private buffer = "";
	private pendingCr = false;
	private event = "";
	private data: string[] = [];
	private id: string | undefined;
	private idBuffer: string | undefined;
	private retry: number | undefined;
	/** The id of the last complete frame (or an inherited one); undefined before any. */
	lastEventId: string | undefined;
	/** The last `retry:` the stream asked for (ms). */
	retryMs: number | undefined;

	/** Resumes after `lastEventId` (the last one a previous connection saw). */
	constructor(lastEventId?: string) {
		this.idBuffer = lastEventId;
		this.lastEventId = lastEventId;
	}

	/** Feeds decoded text; returns the messages it completed. */
	feed(text: string): SseMessage[] {
		const messages: SseMessage[] = [];
		let input = text;
		// A CR that ended the last chunk already ended its line: a LF starting this one is its CRLF.
		if (this.pendingCr && input.startsWith("\n")) input = input.slice(1);
		this.pendingCr = false;
		this.buffer += input;
		for (;;) {
			const end = this.buffer.search(/\r\n|\r|\n/);
			if (end < 0) break;
			const line = this.buffer.slice(0, end);
			const crlf = this.buffer.startsWith("\r\n", end);
			if (!crlf && this.buffer[end] === "\r" && end === this.buffer.length - 1) this.pendingCr = true;
			this.buffer = this.buffer.slice(end + (crlf ? 2 : 1));
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
		if (field === "event") this.event = value;
		else if (field === "data") this.data.push(value);
		else if (field === "id" && !value.includes("\0")) {
			this.id = value;
			this.idBuffer = value;
		} else if (field === "retry" && /^\d+$/.test(value)) {
			this.retry = Number(value);
			this.retryMs = this.retry;
		}
		return undefined;
	}

	private dispatch(): SseMessage | undefined {
		const message: SseMessage | undefined = this.data.length
			? {
					event: this.event || "message",
					data: this.data.join("\n"),
					...(this.id === undefined ? {} : { id: this.id }),
					...(this.retry === undefined ? {} : { retry: this.retry }),
				}
			: undefined;
		this.lastEventId = this.idBuffer;
		this.event = "";
		this.data = [];
		this.id = undefined;
		this.retry = undefined;
		return message;
	}
}
