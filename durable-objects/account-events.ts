import { DurableObject } from "cloudflare:workers";
import { type AccountEvent, sseFrame } from "../workers/events/event";

const encoder = new TextEncoder();

/**
 * One per account: fans the account's events out to its open event streams. Streams are
 * live connections, not state: a subscriber that went away is dropped as soon as its stream
 * says so, or at the next write.
 */
export class AccountEvents extends DurableObject<Env> {
	private subscribers = new Set<WritableStreamDefaultWriter<Uint8Array>>();

	subscribe(): ReadableStream<Uint8Array> {
		const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
		const writer = writable.getWriter();
		this.subscribers.add(writer);
		// A stream that ended or whose reader left (its client did) is dropped now, not at the next write.
		writer.closed.catch(() => undefined).finally(() => this.subscribers.delete(writer));
		return readable;
	}

	async publish(events: AccountEvent[]): Promise<number> {
		const bytes = encoder.encode(events.map(sseFrame).join(""));
		await Promise.all(
			[...this.subscribers].map(async (writer) => {
				try {
					await writer.write(bytes);
				} catch {
					this.subscribers.delete(writer);
				}
			}),
		);
		return this.subscribers.size;
	}
}
