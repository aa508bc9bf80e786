import { DurableObject } from "cloudflare:workers";
import { type BeginResult, decideBegin, type Entry, finish, type StoredResponse } from "./idempotency-entry";

export type { BeginResult, StoredResponse } from "./idempotency-entry";

/**
 * Shards per account. One object per key made every keyed write create (and 24 h later
 * delete) an object of its own; a few per account stay warm, and spread an account's keys
 * so that no one object serialises a busy account's writes.
 */
export const IDEMPOTENCY_SHARDS = 8;

/** The object holding `key` for `scope` (the account): keys are UUIDs, so their last digit spreads them evenly. */
export const idempotencyStoreName = (scope: string, key: string) =>
	`${scope}:${Number.parseInt(key.slice(-1), 16) % IDEMPOTENCY_SHARDS || 0}`;

/** A response body is stored in parts well under the 2 MB a SQLite row may hold (UTF-8, up to 3 bytes a character). */
const PART_CHARS = 500_000;

const SCHEMA = `
	CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, entry TEXT NOT NULL, expires_at INTEGER NOT NULL);
	CREATE INDEX IF NOT EXISTS entries_by_expiry ON entries (expires_at);
	CREATE TABLE IF NOT EXISTS bodies (key TEXT NOT NULL, part INTEGER NOT NULL, text TEXT NOT NULL, PRIMARY KEY (key, part));
`;

/**
 * The body cut into parts of at most PART_CHARS, never between the two halves of a
 * surrogate pair (an emoji): a lone half would be stored as U+FFFD. Always one part at least.
 */
export function bodyParts(body: string, size = PART_CHARS): string[] {
	const parts: string[] = [];
	let start = 0;
	do {
		let end = Math.min(start + size, body.length);
		const last = body.charCodeAt(end - 1);
		if (end < body.length && last >= 0xd800 && last <= 0xdbff) end--;
		parts.push(body.slice(start, end));
		start = end;
	} while (start < body.length);
	return parts;
}

type StoredEntry =
	| Exclude<Entry, { state: "done" }>
	| (Omit<Extract<Entry, { state: "done" }>, "response"> & { response: Omit<StoredResponse, "body"> });

/**
 * A shard of one account's Idempotency-Keys: each key's life — in-flight lock, cached
 * response, expiry — is a small serialised state machine (`idempotency-entry.ts`), here one
 * row. The lock is a lease so that a request that died mid-way does not block its key
 * forever; the database's idempotency claim stops that retry from creating a duplicate.
 * Each lease has its own holder id, so an attempt that outlived its lease can neither
 * release nor overwrite the attempt that took over from it. One alarm, at the earliest
 * expiry, deletes what expired.
 */
export class IdempotencyStore extends DurableObject<Env> {
	clock: () => number = () => Date.now();
	/** The alarm's time as last set or read; undefined until read once per load. */
	private alarmAt: number | null | undefined;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		ctx.storage.sql.exec(SCHEMA);
	}

	async begin(key: string, fingerprint: string, lockMs: number, ttlMs: number): Promise<BeginResult> {
		const now = this.clock();
		const { result, store } = decideBegin(this.current(key, now), fingerprint, now, lockMs, ttlMs, () => crypto.randomUUID());
		if (store) {
			this.put(key, store);
			await this.expireBy(store.expiresAt);
		}
		return result;
	}

	/** Caches the response of the current holder; a stale holder's is dropped. */
	complete(key: string, holder: string, response: StoredResponse): boolean {
		const done = finish(this.current(key, this.clock()), holder, response);
		if (done) this.put(key, done);
		return done !== null;
	}

	/** The current holder failed or was refused: a retry may run at once. */
	release(key: string, holder: string): boolean {
		const released = finish(this.current(key, this.clock()), holder);
		if (released) this.put(key, released);
		return released !== null;
	}

	/** Test and operations view: is anything stored for this key? */
	stored(key: string): boolean {
		return this.ctx.storage.sql.exec("SELECT 1 FROM entries WHERE key = ?", key).toArray().length > 0;
	}

	override async alarm(): Promise<void> {
		const now = this.clock();
		const { sql } = this.ctx.storage;
		sql.exec("DELETE FROM bodies WHERE key IN (SELECT key FROM entries WHERE expires_at <= ?)", now);
		sql.exec("DELETE FROM entries WHERE expires_at <= ?", now);
		const next = sql.exec<{ at: number | null }>("SELECT min(expires_at) AS at FROM entries").one().at;
		this.alarmAt = null;
		if (next !== null) await this.expireBy(next);
	}

	private current(key: string, now: number): Entry | undefined {
		const { sql } = this.ctx.storage;
		const row = sql
			.exec<{ entry: string; expires_at: number }>("SELECT entry, expires_at FROM entries WHERE key = ?", key)
			.toArray()[0];
		if (!row) return undefined;
		if (row.expires_at <= now) {
			this.remove(key);
			return undefined;
		}
		const stored = JSON.parse(row.entry) as StoredEntry;
		if (stored.state !== "done") return stored;
		const parts = sql.exec<{ text: string }>("SELECT text FROM bodies WHERE key = ? ORDER BY part", key).toArray();
		return { ...stored, response: { ...stored.response, body: parts.map((p) => p.text).join("") } };
	}

	private put(key: string, entry: Entry): void {
		const { sql } = this.ctx.storage;
		let stored: StoredEntry = entry;
		if (entry.state === "done") {
			const { body, ...rest } = entry.response;
			stored = { ...entry, response: rest };
			sql.exec("DELETE FROM bodies WHERE key = ?", key);
			bodyParts(body).forEach((text, part) => {
				sql.exec("INSERT INTO bodies (key, part, text) VALUES (?, ?, ?)", key, part, text);
			});
		}
		sql.exec(
			"INSERT INTO entries (key, entry, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET entry = excluded.entry, expires_at = excluded.expires_at",
			key,
			JSON.stringify(stored),
			entry.expiresAt,
		);
	}

	private remove(key: string): void {
		this.ctx.storage.sql.exec("DELETE FROM bodies WHERE key = ?", key);
		this.ctx.storage.sql.exec("DELETE FROM entries WHERE key = ?", key);
	}

	/** Makes sure the alarm comes no later than `at`: keys share one alarm, at the earliest expiry. */
	private async expireBy(at: number): Promise<void> {
		if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
		if (this.alarmAt !== null && this.alarmAt <= at) return;
		this.alarmAt = at;
		await this.ctx.storage.setAlarm(at);
	}
}
