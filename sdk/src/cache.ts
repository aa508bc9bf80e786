/** How long a cached list is used without asking: the seed's 1 to 5 minutes. */
export const MIN_CACHE_TTL_MS = 60_000;
export const MAX_CACHE_TTL_MS = 300_000;

interface Entry {
	etag: string;
	data: unknown;
	/** When the server last confirmed it. */
	confirmedAt: number;
}

/**
 * What the cache says about a GET: use it as is, or ask with If-None-Match (the copy is kept
 * with the lookup, so a 304 has its data even if a write drops the entry meanwhile), or
 * nothing to offer.
 */
export type CacheLookup = { fresh: true; data: unknown } | { fresh: false; etag: string; data: unknown } | undefined;

/** Taken when a GET is sent: its answer may be stored only if no write touched its list since. */
export interface ReadTicket {
	url: string;
	listPath: string;
	generation: number;
}

/**
 * Slow-changing lists (users, caller ids, queues) by URL, with their ETag: used without a
 * request for `ttlMs`, then revalidated with If-None-Match (a 304 confirms them for another
 * `ttlMs`). A write under a list's path drops it. `ttlMs` 0 turns caching off.
 *
 * Each list path has a write generation, bumped by every write under it: an answer to a GET
 * sent before a write may describe the list before it, so it is stored only if the generation
 * it was sent under is still the current one.
 */
export class ResponseCache {
	private readonly entries = new Map<string, Entry>();
	/** Write generation per list path read through the cache (the cacheable lists: a handful). */
	private readonly generations = new Map<string, number>();
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
		return { fresh: false, etag: entry.etag, data: entry.data };
	}

	/** A GET of `url` is being sent. */
	begin(url: string): ReadTicket {
		const listPath = new URL(url).pathname;
		const generation = this.generations.get(listPath) ?? 0;
		if (!this.generations.has(listPath)) this.generations.set(listPath, generation);
		return { url, listPath, generation };
	}

	/** A 200 with an ETag, to the GET `read`: kept unless a write under its list came after the GET was sent. */
	store(read: ReadTicket, etag: string, data: unknown): void {
		if (this.ttlMs === 0 || !this.current(read)) return;
		const url = read.url;
		this.entries.delete(url);
		this.entries.set(url, { etag, data, confirmedAt: this.now() });
		// Oldest first: a Map iterates in insertion order.
		for (const key of this.entries.keys()) {
			if (this.entries.size <= this.maxEntries) break;
			this.entries.delete(key);
		}
	}

	/**
	 * A 304 to the GET `read`, sent with `copy`'s ETag: the copy is current for another ttl — put
	 * back if a write dropped it, unless that write came after the GET was sent.
	 */
	confirm(read: ReadTicket, copy: { etag: string; data: unknown }): void {
		if (this.ttlMs === 0 || !this.current(read)) return;
		const entry = this.entries.get(read.url);
		if (!entry) this.store(read, copy.etag, copy.data);
		// Another GET stored a different version meanwhile: which is newer is unknown, so it stays.
		else if (entry.etag === copy.etag) entry.confirmedAt = this.now();
	}

	/** A write to `path` drops the lists it may change: the path itself and those it sits under. */
	invalidate(path: string): void {
		const touches = (listPath: string) => path === listPath || path.startsWith(`${listPath}/`);
		for (const url of this.entries.keys()) {
			if (touches(new URL(url).pathname)) this.entries.delete(url);
		}
		for (const [listPath, generation] of this.generations) {
			if (touches(listPath)) this.generations.set(listPath, generation + 1);
		}
	}

	private current(read: ReadTicket): boolean {
		return (this.generations.get(read.listPath) ?? 0) === read.generation;
	}

	/** Everything is asked again (with If-None-Match) at its next use. */
	expireAll(): void {
		for (const entry of this.entries.values()) entry.confirmedAt = Number.NEGATIVE_INFINITY;
	}
}
