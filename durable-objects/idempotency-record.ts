import { DurableObject } from "cloudflare:workers";

/** What a replay sends back: the first response, byte for byte. */
export interface StoredResponse {
	status: number;
	headers: Record<string, string>;
	body: string;
}

export type BeginResult =
	/**
	 * `holder` names this attempt: only it may complete or release the key. `now` is the
	 * record's clock: a database claim that expired by then belongs to the key's previous life.
	 */
	| { kind: "proceed"; holder: string; now: number; expiresAt: number }
	| { kind: "replay"; response: StoredResponse }
	| { kind: "in-flight"; retryAfterSeconds: number }
	| { kind: "mismatch" };

type Entry =
	| { state: "processing"; fingerprint: string; holder: string; lockedUntil: number; expiresAt: number }
	/** An attempt failed; the key keeps its body and its life, and the next attempt may run. */
	| { state: "released"; fingerprint: string; expiresAt: number }
	| { state: "done"; fingerprint: string; response: StoredResponse; expiresAt: number };

const ENTRY = "entry";

/**
 * One object per (account, Idempotency-Key): no hot spot per account, and a key's whole
 * life — claim, in-flight lock, cached response, expiry — is one small serialised state
 * machine. The lock is a lease so that a request that died mid-way does not block its key
 * forever; the database's idempotency claim stops that retry from creating a duplicate.
 * Each lease has its own holder id, so an attempt that outlived its lease can neither
 * release nor overwrite the attempt that took over from it.
 */
export class IdempotencyRecord extends DurableObject<Env> {
	clock: () => number = () => Date.now();

	begin(fingerprint: string, lockMs: number, ttlMs: number): BeginResult {
		const now = this.clock();
		const entry = this.current(now);
		if (entry && entry.fingerprint !== fingerprint) return { kind: "mismatch" };
		if (entry?.state === "done") return { kind: "replay", response: entry.response };
		if (entry?.state === "processing" && entry.lockedUntil > now) {
			return { kind: "in-flight", retryAfterSeconds: Math.max(1, Math.ceil((entry.lockedUntil - now) / 1000)) };
		}
		const expiresAt = entry?.expiresAt ?? now + ttlMs;
		const holder = crypto.randomUUID();
		this.ctx.storage.kv.put<Entry>(ENTRY, { state: "processing", fingerprint, holder, lockedUntil: now + lockMs, expiresAt });
		this.scheduleExpiry(expiresAt);
		return { kind: "proceed", holder, now, expiresAt };
	}

	/** Caches the response of the current holder; a stale holder's is dropped. */
	complete(holder: string, response: StoredResponse): boolean {
		const entry = this.current(this.clock());
		if (entry?.state !== "processing" || entry.holder !== holder) return false;
		this.ctx.storage.kv.put<Entry>(ENTRY, {
			state: "done",
			fingerprint: entry.fingerprint,
			response,
			expiresAt: entry.expiresAt,
		});
		return true;
	}

	/** The current holder failed or was refused: a retry may run at once. */
	release(holder: string): boolean {
		const entry = this.current(this.clock());
		if (entry?.state !== "processing" || entry.holder !== holder) return false;
		this.ctx.storage.kv.put<Entry>(ENTRY, { state: "released", fingerprint: entry.fingerprint, expiresAt: entry.expiresAt });
		return true;
	}

	override async alarm(): Promise<void> {
		const entry = this.ctx.storage.kv.get<Entry>(ENTRY);
		const now = this.clock();
		if (entry && entry.expiresAt > now) {
			this.scheduleExpiry(entry.expiresAt);
			return;
		}
		await this.ctx.storage.deleteAll();
	}

	/** Test and operations view: is anything stored for this key? */
	stored(): boolean {
		return this.ctx.storage.kv.get(ENTRY) !== undefined;
	}

	private current(now: number): Entry | undefined {
		const entry = this.ctx.storage.kv.get<Entry>(ENTRY);
		if (entry && entry.expiresAt <= now) {
			this.ctx.storage.kv.delete(ENTRY);
			return undefined;
		}
		return entry;
	}

	private scheduleExpiry(at: number): void {
		void this.ctx.storage.setAlarm(at);
	}
}
