import { describe, expect, it } from "vitest";
import { ResponseCache } from "../../sdk/src/cache";
import { Callgate } from "../../sdk/src/client";

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
	new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

/** A promise with its resolver outside, to order concurrent exchanges by hand. */
function deferred() {
	let resolve: () => void = () => undefined;
	const promise = new Promise<void>((done) => {
		resolve = done;
	});
	return { promise, resolve };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

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
		cache.store(cache.begin(URL_), '"a"', { data: [1] });
		now = 59_999;
		expect(cache.lookup(URL_)).toEqual({ fresh: true, data: { data: [1] } });
		now = 60_000;
		expect(cache.lookup(URL_)).toEqual({ fresh: false, etag: '"a"', data: { data: [1] } });
		cache.confirm(cache.begin(URL_), { etag: '"a"', data: { data: [1] } });
		now = 119_999;
		expect(cache.lookup(URL_)).toMatchObject({ fresh: true });
	});

	it("a write to the list or one of its items drops it; other lists stay", () => {
		const cache = new ResponseCache(60_000, () => 0);
		cache.store(cache.begin(URL_), '"a"', 1);
		cache.store(cache.begin("http://h/api/pbx/queues"), '"q"', 2);
		cache.invalidate("/api/pbx/caller-ids-archive");
		expect(cache.lookup(URL_)).toBeDefined();
		cache.invalidate("/api/pbx/caller-ids/0b7c");
		expect(cache.lookup(URL_)).toBeUndefined();
		expect(cache.lookup("http://h/api/pbx/queues")).toBeDefined();
	});

	it("expireAll makes every entry ask again; off caches nothing; the oldest go past maxEntries", () => {
		const cache = new ResponseCache(60_000, () => 0, 2);
		cache.store(cache.begin("http://h/1"), '"1"', 1);
		cache.store(cache.begin("http://h/2"), '"2"', 2);
		cache.store(cache.begin("http://h/3"), '"3"', 3);
		expect(cache.lookup("http://h/1")).toBeUndefined();
		cache.expireAll();
		expect(cache.lookup("http://h/3")).toEqual({ fresh: false, etag: '"3"', data: 3 });
		const off = new ResponseCache(0);
		off.store(off.begin(URL_), '"a"', 1);
		expect(off.lookup(URL_)).toBeUndefined();
	});

	it("an answer to a GET sent before a write under its list is not kept (it may show the list before the write); one sent after is", () => {
		const cache = new ResponseCache(60_000, () => 0);
		const before = cache.begin("http://h/api/pbx/queues");
		const unrelated = cache.begin(URL_);
		cache.invalidate("/api/pbx/queues/q1");
		cache.store(before, '"old"', { data: [] });
		expect(cache.lookup("http://h/api/pbx/queues")).toBeUndefined();
		cache.store(unrelated, '"c"', { data: [1] });
		expect(cache.lookup(URL_)).toMatchObject({ fresh: true });
		const after = cache.begin("http://h/api/pbx/queues");
		cache.store(after, '"new"', { data: [{ id: "q2" }] });
		expect(cache.lookup("http://h/api/pbx/queues")).toEqual({ fresh: true, data: { data: [{ id: "q2" }] } });
	});

	it("a 304 keeps the copy taken when the GET was sent: put back if dropped by an earlier write, never over a later one", () => {
		let now = 0;
		const cache = new ResponseCache(60_000, () => now);
		cache.store(cache.begin(URL_), '"a"', { data: [1] });
		now = 60_000;
		const copy = { etag: '"a"', data: { data: [1] } };
		const late = cache.begin(URL_);
		cache.invalidate("/api/pbx/caller-ids/x");
		cache.confirm(late, copy);
		expect(cache.lookup(URL_)).toBeUndefined();
		const sentAfter = cache.begin(URL_);
		cache.confirm(sentAfter, copy);
		expect(cache.lookup(URL_)).toEqual({ fresh: true, data: { data: [1] } });
	});
});

describe("the client's cache around its own writes (scripted server)", () => {
	it("a list GET in flight during the caller's write does not cache the pre-write list: the next read shows the write", async () => {
		const queues: { id: string }[] = [];
		const slowGet = deferred();
		let gets = 0;
		const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
			const request = new Request(input, init);
			if (request.method === "POST") {
				queues.push({ id: "q-new" });
				return json(201, { id: "q-new" });
			}
			gets++;
			// The first GET reads the list before the write, and its answer arrives after it.
			const snapshot = { data: [...queues] };
			if (gets === 1) await slowGet.promise;
			return json(200, snapshot, { ETag: `"n${snapshot.data.length}"` });
		}) as typeof globalThis.fetch;
		const client = new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch });
		const before = client.get("/api/pbx/queues");
		await tick();
		await client.post("/api/pbx/queues", { body: { name: "Sales", extensions: [] } });
		slowGet.resolve();
		expect((await before).data).toEqual([]);
		const after = await client.request("get", "/api/pbx/queues");
		expect(after.source).toBe("network");
		expect(after.data.data.map((queue) => queue.id)).toContain("q-new");
		// That answer, sent after the write, is kept.
		expect((await client.request("get", "/api/pbx/queues")).source).toBe("cache");
	});

	it("a 304 arriving after a write dropped the entry resolves with the copy the GET was sent with", async () => {
		let clock = 0;
		const revalidation = deferred();
		let gets = 0;
		const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
			const request = new Request(input, init);
			if (request.method === "DELETE") return new Response(null, { status: 204 });
			gets++;
			if (gets === 1) return json(200, { data: [{ id: "q1" }] }, { ETag: '"a"' });
			if (gets === 2) await revalidation.promise;
			if (request.headers.get("If-None-Match") === '"a"') return new Response(null, { status: 304, headers: { ETag: '"a"' } });
			return json(200, { data: [{ id: "q1" }] }, { ETag: '"a"' });
		}) as typeof globalThis.fetch;
		const client = new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch, now: () => clock });
		await client.get("/api/pbx/queues");
		clock += 61_000;
		const revalidated = client.request("get", "/api/pbx/queues");
		await tick();
		// A write under the list's path (another queue deleted) while the revalidation is in flight.
		await client.delete("/api/pbx/queues/{id}", { path: { id: "q2" } });
		revalidation.resolve();
		expect(await revalidated).toMatchObject({ source: "revalidated", data: { data: [{ id: "q1" }] } });
		// The write came after the GET was sent: the copy is not put back, the next read asks in full.
		const next = await client.request("get", "/api/pbx/queues");
		expect(next.source).toBe("network");
	});
});
