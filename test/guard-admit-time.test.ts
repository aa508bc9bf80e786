import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AdmitRequest, TokenGuard } from "../durable-objects/token-guard";
import { hashToken } from "../workers/auth/tokens";
import { LEASE_MS, tokenGuard } from "../workers/guard/guard";
import { newAccount } from "./helpers";

describe("an admit's time", () => {
	it("is when it decides, after the token's row was read: a hit is never stamped earlier than its admission", async () => {
		const account = await newAccount({ max_connections: 5, rate_limits: { pbx: 1 } });
		const tokenHash = hashToken(account.token);
		const stub = tokenGuard(env, tokenHash);
		const rule: AdmitRequest = { tokenHash, group: "pbx", windowMs: 60_000, leaseMs: LEASE_MS };
		const start = Date.UTC(2026, 0, 1);
		// The first read of the clock comes before D1 answers the token's row; 50 ms pass while it does.
		await runInDurableObject(stub, (guard: TokenGuard) => {
			let reads = 0;
			guard.clock = () => (reads++ === 0 ? start : start + 50);
		});
		const first = await stub.admit(rule);
		expect(first).toMatchObject({ admitted: true, rate: { now: start + 50 } });
		// 60 s after the first read, but under 60 s after that admission: the window is still full.
		await runInDurableObject(stub, (guard: TokenGuard) => {
			guard.clock = () => start + 60_001;
		});
		expect(await stub.admit(rule)).toMatchObject({ admitted: false, reason: "rate", rate: { retryAfterSeconds: 1 } });
	});
});
