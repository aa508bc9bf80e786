import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newAccount } from "./helpers";
import { guardOnClock } from "./support/guard-clock";

/**
 * Memory lets an aged hit go at once; the table keeps it until the group's next sweep. A clock
 * set back can bring that hit into the window again: the guard must answer as one loaded
 * fresh from the table would, evicted in between or not.
 */
describe("the guard's clock set back", () => {
	for (const evict of [false, true]) {
		it(`a hit memory let go but the table still holds counts again (${evict ? "evicted in between" : "same instance"})`, async () => {
			const account = await newAccount({ rate_limits: { pbx: 3 } });
			const start = Date.UTC(2026, 0, 1);
			const g = await guardOnClock(account.token, start);
			for (const offset of [0, 10, 20, 60_000]) {
				g.set(start + offset);
				const a = await g.stub.admit(g.rule);
				expect(a.admitted).toBe(true);
				if (a.admitted) await g.stub.release([a.leaseId]);
			}
			// At +60,010 the hit at +10 ages out of memory; the sweep ran at +60,000, so the table keeps it.
			g.set(start + 60_010);
			await g.stub.usage([{ group: "pbx", limit: 3, windowMs: 60_000 }]);
			if (evict) {
				await evictDurableObject(g.stub);
				await g.setClock();
			}
			// Back 5 ms: the hit at +10 is inside the window (+6 … +60,005) again, and the window is full.
			g.set(start + 60_005);
			const a = await g.stub.admit(g.rule);
			expect(a.admitted).toBe(false);
		});
	}
});
