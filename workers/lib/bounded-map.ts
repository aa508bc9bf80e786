/**
 * A Map that keeps at most `capacity` entries, dropping the one set longest ago: for
 * per-isolate caches that a stream of distinct keys must not grow without end.
 */
export class BoundedMap<K, V> {
	private readonly entries = new Map<K, V>();

	constructor(readonly capacity: number) {}

	get(key: K): V | undefined {
		return this.entries.get(key);
	}

	set(key: K, value: V): void {
		this.entries.delete(key);
		this.entries.set(key, value);
		if (this.entries.size > this.capacity) {
			const oldest = this.entries.keys().next();
			if (!oldest.done) this.entries.delete(oldest.value);
		}
	}

	get size(): number {
		return this.entries.size;
	}
}
