import { DurableObject } from "cloudflare:workers";
import {
	type AccountEvent,
	parsePosition,
	positionFrame,
	REPLAY_MAX_EVENTS,
	REPLAY_WINDOW_MS,
	sseFrame,
	streamGapFrame,
} from "../workers/events/event";

const encoder = new TextEncoder();

/**
 * One per account: fans the account's events out to its open event streams, and keeps the
 * recent ones (REPLAY_WINDOW_MS, at most REPLAY_MAX_EVENTS) in its SQLite storage so that a
 * stream that reconnects with `Last-Event-ID` gets what it missed. Streams are live
 * connections, not state: a subscriber that went away is dropped as soon as its stream says
 * so, or at the next write.
 *
 * Storage calls are synchronous, and a subscriber's replay is queued on its stream in the same
 * turn as it joins the set, so a reconnecting stream gets every event exactly once: those
 * before it joined from storage, those after from `publish`. Each stream's replay ends with
 * its position (`id: pos_<n>`), taken in that same turn, so even a stream that closes before
 * its first event leaves its client a Last-Event-ID that misses nothing.
 */
export class AccountEvents extends DurableObject<Env> {
	private subscribers = new Set<WritableStreamDefaultWriter<Uint8Array>>();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		// `seq` is AUTOINCREMENT, never reused: the order events were published in, also across a prune.
		ctx.storage.sql.exec(
			`CREATE TABLE IF NOT EXISTS recent_events (
				seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, frame TEXT NOT NULL, published_at INTEGER NOT NULL
			)`,
		);
	}

	/**
	 * A stream of the account's events from now on. With `lastEventId` (the client's
	 * Last-Event-ID: an event's id or a position) it starts with the kept events published
	 * after that one; an id no longer kept (or never seen) gets a `stream.gap` frame, then every
	 * kept event. Then, always, the stream's position as an `id:` frame.
	 */
	subscribe(lastEventId?: string): ReadableStream<Uint8Array> {
		const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
		const writer = writable.getWriter();
		const replay = lastEventId === undefined ? "" : this.replayAfter(lastEventId);
		// Not awaited: nothing reads the stream before it is returned; writes keep their order.
		writer.write(encoder.encode(replay + positionFrame(this.lastSequence()))).catch(() => undefined);
		this.subscribers.add(writer);
		// A stream that ended or whose reader left (its client did) is dropped now, not at the next write.
		writer.closed.catch(() => undefined).finally(() => this.subscribers.delete(writer));
		return readable;
	}

	/**
	 * Keeps and sends the events. An event already kept (the same id published again, as a
	 * call's one `call.completed` can be by whichever path ends the call) is not sent twice.
	 */
	async publish(events: AccountEvent[]): Promise<number> {
		const now = Date.now();
		const fresh = events.filter(
			(event) =>
				this.ctx.storage.sql
					.exec(
						"INSERT INTO recent_events (id, frame, published_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING seq",
						event.id,
						sseFrame(event),
						now,
					)
					.toArray().length > 0,
		);
		this.prune(now);
		if (fresh.length === 0) return this.subscribers.size;
		const bytes = encoder.encode(fresh.map(sseFrame).join(""));
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

	private replayAfter(lastEventId: string): string {
		const sql = this.ctx.storage.sql;
		this.prune(Date.now());
		const position = parsePosition(lastEventId);
		if (position !== undefined) return this.replayAfterPosition(lastEventId, position);
		const seen = sql.exec<{ seq: number }>("SELECT seq FROM recent_events WHERE id = ?", lastEventId).toArray()[0];
		const frames = sql
			.exec<{ frame: string }>("SELECT frame FROM recent_events WHERE seq > ? ORDER BY seq", seen?.seq ?? 0)
			.toArray()
			.map((row) => row.frame)
			.join("");
		return seen ? frames : streamGapFrame(lastEventId) + frames;
	}

	/**
	 * The kept events published after position `after`. Sequence numbers are given one per kept
	 * event, in order, and pruning drops the oldest first, so events after the position were
	 * dropped exactly when the oldest kept one is not the next number (or none is kept while the
	 * sequence moved on). A position beyond the sequence is not this account's: a gap.
	 */
	private replayAfterPosition(lastEventId: string, after: number): string {
		const last = this.lastSequence();
		// Beyond the sequence it names no point of this account's: as for an unknown id, every kept event.
		const from = after > last ? 0 : after;
		const rows = this.ctx.storage.sql
			.exec<{ seq: number; frame: string }>("SELECT seq, frame FROM recent_events WHERE seq > ? ORDER BY seq", from)
			.toArray();
		const frames = rows.map((row) => row.frame).join("");
		const firstKept = rows[0]?.seq ?? last + 1;
		const missing = after > last || firstKept > after + 1;
		return missing ? streamGapFrame(lastEventId) + frames : frames;
	}

	/** The sequence number of the last event ever kept (0 before any): AUTOINCREMENT's own counter, which pruning leaves alone. */
	private lastSequence(): number {
		const row = this.ctx.storage.sql
			.exec<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'recent_events'")
			.toArray()[0];
		return row?.seq ?? 0;
	}

	/** Drops what is older than the window or beyond the newest REPLAY_MAX_EVENTS. */
	private prune(now: number): void {
		this.ctx.storage.sql.exec(
			"DELETE FROM recent_events WHERE published_at < ? OR seq <= (SELECT max(seq) FROM recent_events) - ?",
			now - REPLAY_WINDOW_MS,
			REPLAY_MAX_EVENTS,
		);
	}
}
