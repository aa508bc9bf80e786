import { afterEach, describe, expect, it, vi } from "vitest";
import { CallDispatcher } from "../durable-objects/call-dispatcher";
import { IdempotencyStore } from "../durable-objects/idempotency-store";
import { TokenGuard } from "../durable-objects/token-guard";
import { call, pbxAccount } from "./helpers";
import { failD1, failMethod, restoreFaults } from "./support/faults";

/**
 * Issue 11's budget for a keyed click-to-call: at most 2 Durable Object and 2 D1 round trips
 * before the answer. Counted here at the methods themselves (a D1 `first`/`all`/`run`/`raw` or
 * `batch` is one round trip; a Durable Object RPC is one), with the steps that may follow the
 * answer held shut: an answer that arrives while they are held did not wait for them.
 */
afterEach(() => restoreFaults());

/** Holds every call of `method` until `open()`; counts them. */
function hold<T extends object>(prototype: T, method: keyof T & string) {
	let open!: () => void;
	const gate = new Promise<void>((resolve) => {
		open = resolve;
	});
	const original = prototype[method] as (...args: unknown[]) => unknown;
	const state = { calls: 0 };
	(prototype as Record<string, unknown>)[method] = async function (this: unknown, ...args: unknown[]) {
		state.calls++;
		await gate;
		return original.apply(this, args);
	};
	return {
		get calls() {
			return state.calls;
		},
		open: () => {
			open();
			(prototype as Record<string, unknown>)[method] = original;
		},
	};
}

const clickToCall = { from_extension: "1001", to_phone: "0987654321" };

describe("round trips before the answer", () => {
	it("a keyed click-to-call: 2 Durable Object round trips (admit, begin) and 2 D1 (the extension, the write)", async () => {
		const account = await pbxAccount();
		// The token's row is read once a minute, not per request: warm the guard's cache first.
		expect((await call("/api/auth/me", { token: account.token })).status).toBe(200);
		await new Promise((resolve) => setTimeout(resolve, 50));

		const d1 = failD1(/./, { times: 0 });
		const admits = failMethod(TokenGuard.prototype, "admit", { times: 0 });
		const begins = failMethod(IdempotencyStore.prototype, "begin", { times: 0 });
		const completes = hold(IdempotencyStore.prototype, "complete");
		const handOvers = hold(CallDispatcher.prototype, "enqueue");
		const key = crypto.randomUUID();
		const response = await call("/api/pbx/calls/click-to-call", {
			token: account.token,
			body: clickToCall,
			headers: { "Idempotency-Key": key },
		});
		const d1BeforeAnswer = d1.hits;
		expect(response.status).toBe(201);
		expect(admits.hits).toBe(1);
		expect(begins.hits).toBe(1);
		expect(d1BeforeAnswer).toBe(2);
		// Cached and handed over after the answer: both were held the whole time.
		await vi.waitFor(() => expect(completes.calls).toBe(1));
		await vi.waitFor(() => expect(handOvers.calls).toBe(1));
		completes.open();
		handOvers.open();

		const replay = await vi.waitFor(async () => {
			const again = await call("/api/pbx/calls/click-to-call", {
				token: account.token,
				body: clickToCall,
				headers: { "Idempotency-Key": key },
			});
			expect(again.headers.get("Idempotent-Replayed")).toBe("true");
			return again;
		});
		expect(await replay.json()).toEqual(await response.json());
	});

	it("a replay: 2 Durable Object round trips and no D1", async () => {
		const account = await pbxAccount();
		const key = crypto.randomUUID();
		const send = () =>
			call("/api/pbx/calls/click-to-call", { token: account.token, body: clickToCall, headers: { "Idempotency-Key": key } });
		expect((await send()).status).toBe(201);
		await vi.waitFor(async () => expect((await send()).headers.get("Idempotent-Replayed")).toBe("true"));

		const d1 = failD1(/./, { times: 0 });
		const admits = failMethod(TokenGuard.prototype, "admit", { times: 0 });
		const begins = failMethod(IdempotencyStore.prototype, "begin", { times: 0 });
		const replay = await send();
		expect(replay.headers.get("Idempotent-Replayed")).toBe("true");
		expect([admits.hits, begins.hits, d1.hits]).toEqual([1, 1, 0]);
	});
});
