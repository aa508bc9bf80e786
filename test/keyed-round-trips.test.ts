import { afterEach, describe, expect, it } from "vitest";
import { CallDispatcher } from "../durable-objects/call-dispatcher";
import { ContactLedger } from "../durable-objects/contact-ledger";
import { IdempotencyStore } from "../durable-objects/idempotency-store";
import { TokenGuard } from "../durable-objects/token-guard";
import { call, pbxAccount } from "./helpers";
import { failD1, failMethod, restoreFaults } from "./support/faults";

/**
 * Round trips of a keyed click-to-call, counted at the methods themselves (a D1 `first`/
 * `all`/`run`/`raw` or `batch` is one round trip; a Durable Object RPC is one). Before the
 * answer: 2 D1 (the extension with the account's caller ids; the claim and the insert in one
 * batch, answered from its RETURNING row) and 5 Durable Object calls (the guard's admit, the
 * key's begin, the do-not-call check, asked beside the extension's read, the hand-over to the
 * dispatcher, the response kept): the last two stay before the answer, so a Worker that dies
 * after answering loses neither the dial's head start nor the exact replay.
 */
afterEach(() => restoreFaults());

const clickToCall = { from_extension: "1001", to_phone: "0987654321" };

describe("round trips before the answer", () => {
	it("a keyed click-to-call: 2 D1 round trips, and 5 Durable Object calls (admit, begin, do-not-call check, hand-over, complete)", async () => {
		const account = await pbxAccount();
		// The token's row is read once a minute, not per request: warm the guard's cache first.
		expect((await call("/api/auth/me", { token: account.token })).status).toBe(200);
		await new Promise((resolve) => setTimeout(resolve, 50));

		const d1 = failD1(/./, { times: 0 });
		const admits = failMethod(TokenGuard.prototype, "admit", { times: 0 });
		const begins = failMethod(IdempotencyStore.prototype, "begin", { times: 0 });
		const completes = failMethod(IdempotencyStore.prototype, "complete", { times: 0 });
		const handOvers = failMethod(CallDispatcher.prototype, "enqueue", { times: 0 });
		const checks = failMethod(ContactLedger.prototype, "find", { times: 0 });
		const key = crypto.randomUUID();
		const response = await call("/api/pbx/calls/click-to-call", {
			token: account.token,
			body: clickToCall,
			headers: { "Idempotency-Key": key },
		});
		expect(response.status).toBe(201);
		expect([d1.hits, admits.hits, begins.hits, checks.hits, handOvers.hits, completes.hits]).toEqual([2, 1, 1, 1, 1, 1]);
		const replay = await call("/api/pbx/calls/click-to-call", {
			token: account.token,
			body: clickToCall,
			headers: { "Idempotency-Key": key },
		});
		expect(replay.headers.get("Idempotent-Replayed")).toBe("true");
		expect(await replay.json()).toEqual(await response.json());
	});

	it("a replay: 2 Durable Object round trips and no D1", async () => {
		const account = await pbxAccount();
		const key = crypto.randomUUID();
		const send = () =>
			call("/api/pbx/calls/click-to-call", { token: account.token, body: clickToCall, headers: { "Idempotency-Key": key } });
		expect((await send()).status).toBe(201);

		const d1 = failD1(/./, { times: 0 });
		const admits = failMethod(TokenGuard.prototype, "admit", { times: 0 });
		const begins = failMethod(IdempotencyStore.prototype, "begin", { times: 0 });
		const replay = await send();
		expect(replay.headers.get("Idempotent-Replayed")).toBe("true");
		expect([admits.hits, begins.hits, d1.hits]).toEqual([1, 1, 0]);
	});
});
