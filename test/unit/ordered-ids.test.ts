import { describe, expect, it } from "vitest";
import { z } from "zod";
import { orderedIds } from "../../workers/lib/ordered-ids";

describe("ordered import ids", () => {
	it("are UUIDv7 with the RFC 9562 variant, the given millisecond first, each greater than the last", () => {
		const now = Date.UTC(2026, 10, 23, 12, 0, 0, 123);
		const next = orderedIds(now);
		const ids = Array.from({ length: 100_000 }, next);
		for (const id of [ids[0], ids[50_000], ids[99_999]] as string[]) {
			expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
			expect(z.uuid().safeParse(id).success).toBe(true);
			expect(Number.parseInt(id.replace("-", "").slice(0, 12), 16)).toBe(now);
		}
		expect(ids.every((id, i) => i === 0 || (ids[i - 1] as string) < id)).toBe(true);
		expect(new Set(ids).size).toBe(ids.length);
	});

	it("two imports in the same millisecond never share an id", () => {
		const now = Date.now();
		const a = Array.from({ length: 10_000 }, orderedIds(now));
		const b = Array.from({ length: 10_000 }, orderedIds(now));
		expect(new Set([...a, ...b]).size).toBe(20_000);
	});
});
