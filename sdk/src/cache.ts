/** How long a cached list is used without asking: the seed's 1 to 5 minutes. */
export const MIN_CACHE_TTL_MS = 60_000;
export const MAX_CACHE_TTL_MS = 300_000;

interface Entry {
	etag: string;
	data: unknown;
	/** When the server last confirmed it. */
	confirmedAt: number;
}

/** What the cache says about a GET: use it as is, ask with If-None-Match, or nothing to offer. */
export type CacheLookup = { fresh: true; data: unknown } | { fresh: false; etag: string } | undefined;

/**
 * Slow-changing lists (users, caller ids, queues) by URL, with their ETag: used without a
 * request for `ttlMs`, then revalidated with If-None-Match (a 304 confirms them for another
 * `ttlMs`). A write under a list's path drops it. `ttlMs` 0 turns caching off.
 */
export class ResponseCache {
	private readonly entries = new Map<string, Entry>();
	readonly ttlMs: number;
	private readonly now: () => number;
	private readonly maxEntries: number;

	constructor(ttlMs: number, now: () => number = Date.now, maxEntries = 500) {
		this.ttlMs = ttlMs;
		this.now = now;
		this.maxEntries = maxEntries;
		if (ttlMs !== 0 && !(ttlMs >= MIN_CACHE_TTL_MS && ttlMs <= MAX_CACHE_TTL_MS)) {
			throw new RangeError(`cacheTtlMs must be 0 (off) or between ${MIN_CACHE_TTL_MS} and ${MAX_CACHE_TTL_MS}, not ${ttlMs}`);
		}
	}

	lookup(url: string): CacheLookup {
		const entry = this.entries.get(url);
		if (!entry || this.ttlMs === 0) return undefined;
		if (this.now() - entry.confirmedAt < this.ttlMs) return { fresh: true, data: entry.data };
		return { fresh: false, etag: entry.etag };
	}

	/** A 200 with an ETag. */
	store(url: string, etag: string, data: unknown): void {
		if (this.ttlMs === 0) return;
		this.entries.delete(url);
		this.entries.set(url, { etag, data, confirmedAt: this.now() });
		// Oldest first: a Map iterates in insertion order.
		for (const key of this.entries.keys()) {
			if (this.entries.size <= this.maxEntries) break;
			this.entries.delete(key);
		}
	}

	/** A 304: the entry is current for another ttl; its data. */
	confirm(url: string): unknown {
		const entry = this.entries.get(url);
		if (!entry) return undefined;
		entry.confirmedAt = this.now();
		return entry.data;
	}

	/** A write to `path` drops the lists it may change: the path itself and those it sits under. */
	invalidate(path: string): void {
		for (const url of this.entries.keys()) {
			const listPath = new URL(url).pathname;
			if (path === listPath || path.startsWith(`${listPath}/`)) this.entries.delete(url);
		}
	}

	/** Everything is asked again (with If-None-Match) at its next use. */
	expireAll(): void {
		for (const entry of this.entries.values()) entry.confirmedAt = Number.NEGATIVE_INFINITY;
	}
}
