import { describe, expect, it } from "vitest";
import { ResponseCache } from "../../sdk/src/cache";

const URL_ = "http://h/api/pbx/caller-ids";

describe("ResponseCache", () => {
	it("takes a ttl of 1 to 5 minutes, or 0 for off", () => {
		expect(() => new ResponseCache(59_999)).toThrow(RangeError);
		expect(() => new ResponseCache(300_001)).toThrow(RangeError);
		expect(() => new ResponseCache(0)).not.toThrow();
		expect(() => new ResponseCache(300_000)).not.toThrow();
	});

	it("fresh for its ttl, then asked again with its ETag; a 304 makes it fresh for another ttl", () => {
		let now = 0;
		const cache = new ResponseCache(60_000, () => now);
		expect(cache.lookup(URL_)).toBeUndefined();
		cache.store(URL_, '"a"', { data: [1] });
		now = 59_999;
		expect(cache.lookup(URL_)).toEqual({ fresh: true, data: { data: [1] } });
		now = 60_000;
		expect(cache.lookup(URL_)).toEqual({ fresh: false, etag: '"a"' });
		expect(cache.confirm(URL_)).toEqual({ data: [1] });
		now = 119_999;
		expect(cache.lookup(URL_)).toMatchObject({ fresh: true });
	});

	it("a write to the list or one of its items drops it; other lists stay", () => {
		const cache = new ResponseCache(60_000, () => 0);
		cache.store(URL_, '"a"', 1);
		cache.store("http://h/api/pbx/queues", '"q"', 2);
		cache.invalidate("/api/pbx/caller-ids-archive");
		expect(cache.lookup(URL_)).toBeDefined();
		cache.invalidate("/api/pbx/caller-ids/0b7c");
		expect(cache.lookup(URL_)).toBeUndefined();
		expect(cache.lookup("http://h/api/pbx/queues")).toBeDefined();
	});

	it("expireAll makes every entry ask again; off caches nothing; the oldest go past maxEntries", () => {
		const cache = new ResponseCache(60_000, () => 0, 2);
		cache.store("http://h/1", '"1"', 1);
		cache.store("http://h/2", '"2"', 2);
		cache.store("http://h/3", '"3"', 3);
		expect(cache.lookup("http://h/1")).toBeUndefined();
		cache.expireAll();
		expect(cache.lookup("http://h/3")).toEqual({ fresh: false, etag: '"3"' });
		const off = new ResponseCache(0);
		off.store(URL_, '"a"', 1);
		expect(off.lookup(URL_)).toBeUndefined();
	});
});
