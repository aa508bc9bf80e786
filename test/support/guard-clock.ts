import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { AdmitRequest, TokenGuard } from "../../durable-objects/token-guard";
import { hashToken } from "../../workers/auth/tokens";
import { LEASE_MS, tokenGuard } from "../../workers/guard/guard";

/**
 * A token's guard on a clock the test moves (`set`, then `setClock` again after an eviction,
 * which drops the override), the admit request for its `pbx` group, and its tables' row counts.
 */
export async function guardOnClock(token: string, start: number) {
	const tokenHash = hashToken(token);
	const stub = tokenGuard(env, tokenHash);
	let now = start;
	const setClock = () =>
		runInDurableObject(stub, (guard: TokenGuard) => {
			guard.clock = () => now;
		});
	await setClock();
	const rule: AdmitRequest = { tokenHash, group: "pbx", windowMs: 60_000, leaseMs: LEASE_MS };
	const rows = (table: "hits" | "leases") =>
		runInDurableObject(
			stub,
			(_: TokenGuard, state) => state.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${table}`).one().n,
		);
	return { stub, rule, rows, setClock, set: (ms: number) => (now = ms) };
}
