import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { bodyParts, IDEMPOTENCY_SHARDS, type IdempotencyStore, idempotencyStoreName } from "../durable-objects/idempotency-store";
import { DAY } from "../workers/lib/time";

const storeOf = (name: string) => env.IDEMPOTENCY.get(env.IDEMPOTENCY.idFromName(name));

describe("IdempotencyStore: an account's keys in a few shards", () => {
	it("keys spread over the account's shards; no two accounts share one", () => {
		const names = new Set(Array.from({ length: 400 }, () => idempotencyStoreName("acct-a", crypto.randomUUID())));
		expect(names.size).toBe(IDEMPOTENCY_SHARDS);
		for (const name of names) expect(name.startsWith("acct-a:")).toBe(true);
		const key = crypto.randomUUID();
		expect(idempotencyStoreName("acct-a", key)).not.toBe(idempotencyStoreName("acct-b", key));
	});

	it("a response far over a SQLite row's 2 MB is cached and replayed whole", async () => {
		const key = crypto.randomUUID();
		// Multi-byte characters: the parts are cut by characters, rows are limited in bytes.
		const body = JSON.stringify({ rows: "é".repeat(1_200_000) + "x".repeat(900_001) });
		await runInDurableObject(storeOf(`big:${crypto.randomUUID()}`), async (store: IdempotencyStore) => {
			const begun = await store.begin(key, "fp", 30_000, DAY);
			if (begun.kind !== "proceed") throw new Error(begun.kind);
			expect(store.complete(key, begun.holder, { status: 201, headers: { "content-type": "application/json" }, body })).toBe(
				true,
			);
			const replay = await store.begin(key, "fp", 30_000, DAY);
			if (replay.kind !== "replay") throw new Error(replay.kind);
			expect(replay.response.body.length).toBe(body.length);
			expect(replay.response.body === body).toBe(true);
		});
	});

	it("a part boundary never splits a surrogate pair: an emoji across it replays whole", async () => {
		const key = crypto.randomUUID();
		// The emoji's two UTF-16 code units straddle the 500,000-character part boundary.
		const body = JSON.stringify({ note: `${"a".repeat(499_990)}😀 tail` });
		expect(body.charCodeAt(499_999)).toBeGreaterThanOrEqual(0xd800);
		expect(body.charCodeAt(499_999)).toBeLessThan(0xdc00);
		await runInDurableObject(storeOf(`split:${crypto.randomUUID()}`), async (store: IdempotencyStore) => {
			const begun = await store.begin(key, "fp", 30_000, DAY);
			if (begun.kind !== "proceed") throw new Error(begun.kind);
			store.complete(key, begun.holder, { status: 201, headers: {}, body });
			const replay = await store.begin(key, "fp", 30_000, DAY);
			if (replay.kind !== "replay") throw new Error(replay.kind);
			expect(replay.response.body === body).toBe(true);
		});
	});

	it("bodyParts cuts at the size, one character early before the first half of a surrogate pair", () => {
		expect(bodyParts("", 3)).toEqual([""]);
		expect(bodyParts("abcdefg", 3)).toEqual(["abc", "def", "g"]);
		expect(bodyParts("ab😀cd", 3)).toEqual(["ab", "😀c", "d"]);
		expect(bodyParts("ab😀cd", 3).join("")).toBe("ab😀cd");
	});

	it("one alarm serves every key: each is deleted once it expires, the alarm re-armed for the next", async () => {
		const stub = storeOf(`expiry:${crypto.randomUUID()}`);
		const [early, late] = [crypto.randomUUID(), crypto.randomUUID()];
		const start = Date.now();
		await runInDurableObject(stub, async (store: IdempotencyStore, state) => {
			store.clock = () => start;
			await store.begin(early, "fp", 30_000, DAY);
			store.clock = () => start + 60_000;
			await store.begin(late, "fp", 30_000, DAY);
			expect(await state.storage.getAlarm()).toBe(start + DAY);
			store.clock = () => start + DAY;
		});
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		await runInDurableObject(stub, async (store: IdempotencyStore, state) => {
			expect(store.stored(early)).toBe(false);
			expect(store.stored(late)).toBe(true);
			expect(await state.storage.getAlarm()).toBe(start + 60_000 + DAY);
			store.clock = () => start + 60_000 + DAY;
		});
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		await runInDurableObject(stub, async (store: IdempotencyStore, state) => {
			expect(store.stored(late)).toBe(false);
			expect(await state.storage.getAlarm()).toBeNull();
			// The next key arms it again.
			await store.begin(crypto.randomUUID(), "fp", 30_000, DAY);
			expect(await state.storage.getAlarm()).toBe(start + 60_000 + 2 * DAY);
		});
	});
});
