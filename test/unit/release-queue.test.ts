import { describe, expect, it } from "vitest";
import { ReleaseQueue } from "../../workers/guard/release-queue";

describe("ReleaseQueue", () => {
	it("hands each token's waiting leases to one taker, once", () => {
		const queue = new ReleaseQueue();
		queue.add("a", "1");
		queue.add("a", "2");
		queue.add("b", "3");
		expect(queue.size).toBe(3);
		expect(queue.has("a", "1")).toBe(true);
		expect(queue.take("a").sort()).toEqual(["1", "2"]);
		expect(queue.has("a", "1")).toBe(false);
		expect(queue.take("a")).toEqual([]);
		expect(queue.take("b")).toEqual(["3"]);
		expect(queue.size).toBe(0);
	});

	it("keeps a lease once however often it is handed back", () => {
		const queue = new ReleaseQueue();
		queue.add("a", "1");
		queue.add("a", "1");
		expect(queue.take("a")).toEqual(["1"]);
	});
});
