import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AdmitRequest, TokenGuard } from "../durable-objects/token-guard";
import { hashToken } from "../workers/auth/tokens";
import { LEASE_MS, tokenGuard } from "../workers/guard/guard";
import { newAccount } from "./helpers";

/** Makes the guard's next statement starting with `prefix` throw, as a storage failure would. */
function failNextStatement(stub: DurableObjectStub<TokenGuard>, prefix: string) {
	return runInDurableObject(stub, (_: TokenGuard, state) => {
		const { sql } = state.storage;
		const exec = sql.exec.bind(sql);
		let armed = true;
		Object.assign(sql, {
			exec: (query: string, ...bindings: unknown[]) => {
				if (armed && query.startsWith(prefix)) {
					armed = false;
					throw new Error(`injected: ${prefix} failed`);
				}
				return exec(query, ...bindings);
			},
		});
	});
}

describe("an admit that fails while writing", () => {
	it("holds no connection slot and counts no hit: the lease and the hit are written together or not at all", async () => {
		const account = await newAccount({ max_connections: 2, rate_limits: { pbx: 5 } });
		const tokenHash = hashToken(account.token);
		const stub = tokenGuard(env, tokenHash);
		const rule: AdmitRequest = { tokenHash, group: "pbx", windowMs: 60_000, leaseMs: LEASE_MS };
		expect((await stub.admit(rule)).admitted).toBe(true);

		// The lease's insert goes in, the hit's throws: the request is answered 500 and never runs.
		await failNextStatement(stub, "INSERT INTO hits");
		const failed = await stub.admit(rule).then(
			() => "admitted",
			(error: Error) => error.message,
		);
		expect(failed).toContain("injected");

		// So its slot is free at once (not for LEASE_MS), and its unit of the window too.
		expect(await stub.connectionsInFlight()).toBe(1);
		const second = await stub.admit(rule);
		expect(second).toMatchObject({ admitted: true, rate: { state: { remaining: 3 } } });
		const rows = await runInDurableObject(stub, (_: TokenGuard, state) => ({
			leases: state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM leases").one().n,
			hits: state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM hits").one().n,
		}));
		expect(rows).toEqual({ leases: 2, hits: 2 });
	});
});
