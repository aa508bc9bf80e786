import { DurableObject } from "cloudflare:workers";

/** What a replay sends back: the first response, byte for byte. */
export interface StoredResponse {
	status: number;
	headers: Record<string, string>;
	body: string;
}

export type BeginResult =
	/** `resumed`: an earlier attempt with this key died mid-way; what it wrote may exist. */
	| { kind: "proceed"; resumed: boolean; expiresAt: number }
	| { kind: "replay"; response: StoredResponse }
	| { kind: "in-flight"; retryAfterSeconds: number }
	| { kind: "mismatch" };

type Entry =
	| { state: "processing"; fingerprint: string; lockedUntil: number; expiresAt: number }
	| { state: "done"; fingerprint: string; response: StoredResponse; expiresAt: number };

const ENTRY = "entry";

/**
 * One object per (account, Idempotency-Key): no hot spot per account, and a key's whole
 * life — claim, in-flight lock, cached response, expiry — is one small serialised state
 * machine. The lock is a lease so that a request that died mid-way does not block its key
 * forever; the database's idempotency claim stops that retry from creating a duplicate.
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
		this.ctx.storage.kv.put<Entry>(ENTRY, { state: "processing", fingerprint, lockedUntil: now + lockMs, expiresAt });
		this.scheduleExpiry(expiresAt);
		return { kind: "proceed", resumed: entry !== undefined, expiresAt };
	}

	complete(fingerprint: string, response: StoredResponse): void {
		const entry = this.current(this.clock());
		if (entry?.state !== "processing" || entry.fingerprint !== fingerprint) return;
		this.ctx.storage.kv.put<Entry>(ENTRY, { state: "done", fingerprint, response, expiresAt: entry.expiresAt });
	}

	/** The first request failed or was refused: a retry may run. */
	release(fingerprint: string): void {
		const entry = this.current(this.clock());
		if (entry?.state === "processing" && entry.fingerprint === fingerprint) this.ctx.storage.kv.delete(ENTRY);
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
