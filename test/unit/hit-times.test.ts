import { describe, expect, it } from "vitest";
import { HitTimes } from "../../durable-objects/sliding-window";
import { BoundedMap } from "../../workers/lib/bounded-map";

describe("HitTimes (a group's live hits in the guard's memory)", () => {
	it("counts, knows the newest and the nth oldest, and drops the aged ones", () => {
		const hits = new HitTimes([100, 200, 300]);
		hits.add(400);
		expect([hits.count, hits.newest, hits.at(0), hits.at(3)]).toEqual([4, 400, 100, 400]);
		expect(hits.dropOlderThan(250)).toBe(2);
		expect([hits.count, hits.at(0), hits.at(1)]).toEqual([2, 300, 400]);
		expect(hits.dropOlderThan(250)).toBe(0);
		expect(hits.dropOlderThan(401)).toBe(2);
		expect([hits.count, hits.newest, hits.at(0)]).toEqual([0, undefined, undefined]);
	});

	it("keeps its order when a time arrives out of order (a clock set back)", () => {
		const hits = new HitTimes([100, 300]);
		hits.add(200);
		hits.add(50);
		expect([0, 1, 2, 3].map((i) => hits.at(i))).toEqual([50, 100, 200, 300]);
		expect(hits.dropOlderThan(150)).toBe(2);
		hits.add(120);
		expect([hits.count, hits.at(0)]).toEqual([3, 120]);
	});

	it("removes one refunded hit, and only a live one", () => {
		const hits = new HitTimes([100, 100, 200]);
		expect(hits.remove(100)).toBe(true);
		expect(hits.count).toBe(2);
		hits.dropOlderThan(150);
		expect(hits.remove(100)).toBe(false);
		expect(hits.remove(999)).toBe(false);
		expect(hits.count).toBe(1);
	});

	it("stays exact across compactions of a long run", () => {
		const hits = new HitTimes();
		for (let t = 0; t < 10_000; t++) {
			hits.add(t);
			hits.dropOlderThan(t - 99);
			expect(hits.count).toBe(Math.min(t + 1, 100));
		}
		expect([hits.at(0), hits.newest]).toEqual([9_900, 9_999]);
	});
});

describe("BoundedMap", () => {
	it("keeps at most its capacity, dropping the entry set longest ago", () => {
		const map = new BoundedMap<string, number>(2);
		map.set("a", 1);
		map.set("b", 2);
		map.set("a", 3);
		map.set("c", 4);
		expect([map.get("a"), map.get("b"), map.get("c"), map.size]).toEqual([3, undefined, 4, 2]);
	});
});
