import { DurableObject } from "cloudflare:workers";
import {
	type AttemptCap,
	type ClaimAnswer,
	type ClaimRequest,
	type CountedAttempt,
	KEEP_ATTEMPTS_DAYS,
	planClaims,
} from "./ledger-claims";

/** Where a do-not-call entry came from: the list's own route, or a lead's `do_not_call` disposition. */
export type DncSource = "api" | "disposition";

export type DncEntry = {
	phone: string;
	reason: string | null;
	source: DncSource;
	created_at: string;
};

/** A list position: entries are ordered by (created_at, phone), so pages never skip or repeat. */
export interface DncPosition {
	created_at: string;
	phone: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const PURGE_EVERY_MS = 60 * 60 * 1000;
const PURGED_AT = "purged_at";
/**
 * How long the ledger remembers a disposition's listing it took (see takeListing) after that
 * listing was last handed to it. A dnc_outbox row is handed over again every minute until its
 * delete succeeds, and each hand-over renews this, so the memory outlives every row unless the
 * minute cron stops for this long.
 */
export const KEEP_HANDED_OVER_DAYS = 30;

/** A count to confirm placed: the provider took `callId` at `at` (the pacer's clock). */
export interface PlacedAttempt {
	callId: string;
	phone: string;
	at: number;
}

export const contactLedgerOf = (env: Env, accountId: string) =>
	env.CONTACT_LEDGER.get(env.CONTACT_LEDGER.idFromName(`account:${accountId}`));

/**
 * One per account: its do-not-call list and the campaign attempts it has counted per number,
 * in this object's SQLite and nowhere else. Every campaign of the account asks it before each
 * dial (`claim`), and each claim is decided and counted in one synchronous step, so no two
 * campaigns can both take the last attempt a number has left, and a number listed a moment
 * ago is refused to every dial asked after it. A claim's count is a reservation until its
 * pacer confirms the provider took the call (`settle`), which re-stamps it with that moment;
 * a call closed undialled gives its count back (`settle` too). The list is read through it
 * too, so what the API shows is what the dials are checked against.
 */
export class ContactLedger extends DurableObject<Env> {
	/** Replaced in tests to drive time. */
	clock: () => number = () => Date.now();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		ctx.storage.sql.exec(`
			CREATE TABLE IF NOT EXISTS dnc (
				phone TEXT PRIMARY KEY, reason TEXT, source TEXT NOT NULL, created_at TEXT NOT NULL
			);
			CREATE INDEX IF NOT EXISTS dnc_order ON dnc (created_at, phone);
			CREATE TABLE IF NOT EXISTS attempts (
				call_id TEXT PRIMARY KEY, phone TEXT NOT NULL, at INTEGER NOT NULL, released INTEGER NOT NULL DEFAULT 0,
				placed INTEGER NOT NULL DEFAULT 0
			);
			CREATE INDEX IF NOT EXISTS attempts_by_phone ON attempts (phone, at);
			CREATE INDEX IF NOT EXISTS attempts_by_age ON attempts (at);
			CREATE TABLE IF NOT EXISTS handed_over (id TEXT PRIMARY KEY, at INTEGER NOT NULL);
			CREATE INDEX IF NOT EXISTS handed_over_by_age ON handed_over (at);
		`);
		// Counts made before reservations existed stood for dials: they stay placed.
		const columns = new Set(this.sql<{ name: string }>("PRAGMA table_info(attempts)").map((column) => column.name));
		if (!columns.has("placed")) ctx.storage.sql.exec("ALTER TABLE attempts ADD COLUMN placed INTEGER NOT NULL DEFAULT 1");
	}

	// --- the do-not-call list ---

	/** Lists the numbers (E.164) in one step: all of them or, if the step fails, none. Answers those that were new. */
	add(phones: string[], reason: string | null, source: DncSource): string[] {
		if (!phones.length) return [];
		const createdAt = new Date(this.clock()).toISOString();
		return this.ctx.storage.sql
			.exec<{ phone: string }>(
				`INSERT INTO dnc (phone, reason, source, created_at)
				 SELECT value, ?1, ?2, ?3 FROM json_each(?4) WHERE true
				 ON CONFLICT (phone) DO NOTHING RETURNING phone`,
				reason,
				source,
				createdAt,
				JSON.stringify(phones),
			)
			.toArray()
			.map((row) => row.phone);
	}

	/**
	 * Lists a number for a lead's `do_not_call` disposition, once per outbox row (`listingId`,
	 * the disposition's id): a repeat of a hand-over the ledger already took (its outbox row's
	 * delete failed, and the cron hands it over again) changes nothing, also after the owner
	 * took the number off the list in between. Answers whether the number was newly listed.
	 */
	takeListing(listingId: string, phone: string, reason: string | null): boolean {
		const now = this.clock();
		return this.ctx.storage.transactionSync(() => {
			const repeat = this.ctx.storage.sql.exec("UPDATE handed_over SET at = ? WHERE id = ?", now, listingId).rowsWritten > 0;
			if (repeat) return false;
			this.ctx.storage.sql.exec("INSERT INTO handed_over (id, at) VALUES (?, ?)", listingId, now);
			this.purge(now);
			return this.add([phone], reason, "disposition").length > 0;
		});
	}

	/** Answers whether the number was listed. */
	remove(phone: string): boolean {
		return this.ctx.storage.sql.exec("DELETE FROM dnc WHERE phone = ?", phone).rowsWritten > 0;
	}

	find(phone: string): DncEntry | null {
		return this.sql<DncEntry>("SELECT phone, reason, source, created_at FROM dnc WHERE phone = ?", phone)[0] ?? null;
	}

	/** Up to `limit` entries after `after`, in (created_at, phone) order. */
	page(limit: number, after: DncPosition | null): DncEntry[] {
		return after
			? this.sql<DncEntry>(
					`SELECT phone, reason, source, created_at FROM dnc
					  WHERE created_at > ?1 OR (created_at = ?1 AND phone > ?2) ORDER BY created_at, phone LIMIT ?3`,
					after.created_at,
					after.phone,
					limit,
				)
			: this.sql<DncEntry>("SELECT phone, reason, source, created_at FROM dnc ORDER BY created_at, phone LIMIT ?", limit);
	}

	// --- campaign attempts ---

	/**
	 * Clears a round of a campaign's dials, in order: `dial` (a reservation now against the
	 * number's cap), `wait` (other calls' reservations fill it for now) or `skip` with the
	 * reason. Idempotent per call id: asking again (an answer that was lost, a dial the provider
	 * refused for now) counts that call once. `cap` is the account's `max_attempts_per_number`
	 * as the caller read it for this round (null: no cap).
	 */
	claim(requests: ClaimRequest[], cap: AttemptCap | null): ClaimAnswer[] {
		if (!requests.length) return [];
		const now = this.clock();
		const phones = JSON.stringify([...new Set(requests.map((request) => request.phone))]);
		const callIds = JSON.stringify(requests.map((request) => request.callId));
		const listed = new Set(
			this.sql<{ phone: string }>("SELECT phone FROM dnc WHERE phone IN (SELECT value FROM json_each(?))", phones).map(
				(row) => row.phone,
			),
		);
		const attempts = this.sql<{ call_id: string; phone: string; at: number; placed: number }>(
			"SELECT call_id, phone, at, placed FROM attempts WHERE released = 0 AND phone IN (SELECT value FROM json_each(?))",
			phones,
		).map((row): CountedAttempt => ({ callId: row.call_id, phone: row.phone, at: row.at, placed: row.placed === 1 }));
		const released = new Set(
			this.sql<{ call_id: string }>(
				"SELECT call_id FROM attempts WHERE released = 1 AND call_id IN (SELECT value FROM json_each(?))",
				callIds,
			).map((row) => row.call_id),
		);
		const plan = planClaims(requests, { listed, attempts, released }, cap, now);
		this.ctx.storage.transactionSync(() => {
			for (const attempt of plan.count) {
				this.ctx.storage.sql.exec(
					`INSERT INTO attempts (call_id, phone, at, placed) VALUES (?, ?, ?, 0)
					 ON CONFLICT (call_id) DO UPDATE SET at = excluded.at WHERE released = 0 AND placed = 0`,
					attempt.callId,
					attempt.phone,
					attempt.at,
				);
			}
			for (const callId of plan.uncount) {
				this.ctx.storage.sql.exec("DELETE FROM attempts WHERE call_id = ? AND released = 0 AND placed = 0", callId);
			}
			this.purge(now);
		});
		return plan.answers;
	}

	/**
	 * A pacer's report after a round of dials, in one step. `placed`: the provider took these
	 * calls; each count becomes placed, stamped with the moment it was taken (a repeat writes
	 * the same). `released`: calls their campaign closed without a dial (a cancel, a skip, a
	 * provider's permanent refusal) give their reservation back for good: a claim of one of
	 * them that arrives late (its sender gave up waiting) is refused, never counted again. A
	 * placed count is never given back. Repeats change nothing.
	 */
	settle(placed: PlacedAttempt[], released: string[]): void {
		if (!placed.length && !released.length) return;
		this.ctx.storage.transactionSync(() => {
			if (placed.length) {
				this.ctx.storage.sql.exec(
					`INSERT INTO attempts (call_id, phone, at, released, placed)
					 SELECT json_extract(value, '$.callId'), json_extract(value, '$.phone'), json_extract(value, '$.at'), 0, 1
					   FROM json_each(?) WHERE true
					 ON CONFLICT (call_id) DO UPDATE SET placed = 1, released = 0, at = excluded.at, phone = excluded.phone`,
					JSON.stringify(placed),
				);
			}
			if (released.length) {
				this.ctx.storage.sql.exec(
					`INSERT INTO attempts (call_id, phone, at, released, placed) SELECT value, '', ?1, 1, 0 FROM json_each(?2) WHERE true
					 ON CONFLICT (call_id) DO UPDATE SET released = 1, at = excluded.at WHERE placed = 0`,
					this.clock(),
					JSON.stringify(released),
				);
			}
		});
	}

	/** The number's counted attempts (placed and reserved) stamped after `since` (for operations and tests). */
	attemptsOf(phone: string, since: number): number {
		const { placed, reserved } = this.countsOf(phone, since);
		return placed + reserved;
	}

	/** The number's counts stamped after `since`, by kind (for operations and tests). */
	countsOf(phone: string, since: number): { placed: number; reserved: number } {
		const { placed, reserved } = this.ctx.storage.sql
			.exec<{ placed: number; reserved: number }>(
				`SELECT coalesce(sum(placed), 0) AS placed, coalesce(sum(1 - placed), 0) AS reserved
				   FROM attempts WHERE released = 0 AND phone = ? AND at > ?`,
				phone,
				since,
			)
			.one();
		return { placed, reserved };
	}

	/** Rows older than any cap counts, and listings not handed over for a while, are dropped, at most once an hour. */
	private purge(now: number): void {
		const last = this.ctx.storage.kv.get<number>(PURGED_AT) ?? 0;
		if (now - last < PURGE_EVERY_MS) return;
		this.ctx.storage.kv.put(PURGED_AT, now);
		this.ctx.storage.sql.exec("DELETE FROM attempts WHERE at <= ?", now - KEEP_ATTEMPTS_DAYS * DAY_MS);
		this.ctx.storage.sql.exec("DELETE FROM handed_over WHERE at <= ?", now - KEEP_HANDED_OVER_DAYS * DAY_MS);
	}

	private sql<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): T[] {
		return this.ctx.storage.sql.exec<T>(query, ...bindings).toArray();
	}
}
