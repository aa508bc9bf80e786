import { DurableObject } from "cloudflare:workers";

/**
 * The benchmark's floors for the guard (bench-only routes, `workers/bench/routes.ts`): one
 * Durable Object RPC that does nothing, and one that writes one SQLite row. Set up like the
 * guard's objects (SQLite-backed, one object per key, named with `idFromName`), so that the
 * guard's throughput can be read as a fraction of what one round trip, with or without a
 * durable write, costs on the same machine in the same run. Never reachable in production.
 */
export class BenchFloor extends DurableObject<Env> {
	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS writes (at INTEGER NOT NULL)");
	}

	/** One round trip, no storage. */
	noop(): void {}

	/** One round trip, one row inserted (the answer waits for it to be durable, as the guard's do). */
	write(): void {
		this.ctx.storage.sql.exec("INSERT INTO writes (at) VALUES (?)", Date.now());
	}
}
