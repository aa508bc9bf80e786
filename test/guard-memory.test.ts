import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { TokenGuard } from "../durable-objects/token-guard";
import { LEASE_MS } from "../workers/guard/guard";
import { burst, call, newAccount } from "./helpers";
import { guardOnClock } from "./support/guard-clock";

/**
 * The guard decides each admit from memory (live hits per group, leases) and writes each
 * change to its tables first: these check that what lasts is the tables — eviction, a write
 * that throws, aged rows swept only when due — and that leaving the principal out of an
 * answer never outlives a revocation.
 */

describe("the guard's state in memory and in its tables", () => {
	it("held slots and the window survive an eviction: the reloaded guard counts what the tables hold", async () => {
		const account = await newAccount({ max_connections: 2, rate_limits: { pbx: 3 } });
		const start = Date.UTC(2026, 0, 1);
		const guard = await guardOnClock(account.token, start);
		const first = await guard.stub.admit(guard.rule);
		expect((await guard.stub.admit(guard.rule)).admitted).toBe(true);
		await evictDurableObject(guard.stub);
		await guard.setClock();
		expect(await guard.stub.admit(guard.rule)).toMatchObject({ admitted: false, reason: "connections" });
		if (!first.admitted) throw new Error("expected admission");
		await guard.stub.release([first.leaseId]);
		const third = await guard.stub.admit(guard.rule);
		expect(third).toMatchObject({ admitted: true, rate: { state: { remaining: 0 } } });
		await guard.stub.release([third.admitted ? third.leaseId : ""]);
		await evictDurableObject(guard.stub);
		await guard.setClock();
		expect(await guard.stub.admit(guard.rule)).toMatchObject({ admitted: false, reason: "rate" });
	});

	it("a crashed request's slot is freed by its lease, also after an eviction, and its row goes", async () => {
		const account = await newAccount({ max_connections: 1 });
		const start = Date.UTC(2026, 0, 1);
		const guard = await guardOnClock(account.token, start);
		expect((await guard.stub.admit(guard.rule)).admitted).toBe(true);
		await evictDurableObject(guard.stub);
		await guard.setClock();
		expect(await guard.stub.admit(guard.rule)).toMatchObject({ admitted: false, reason: "connections" });
		guard.set(start + LEASE_MS);
		expect(await guard.rows("leases")).toBe(1);
		expect((await guard.stub.admit(guard.rule)).admitted).toBe(true);
		expect(await guard.rows("leases")).toBe(1);
	});

	it("aged hits leave the table at most a second after memory skipped them, and never count again", async () => {
		const account = await newAccount({ rate_limits: { pbx: 5 } });
		const start = Date.UTC(2026, 0, 1);
		const guard = await guardOnClock(account.token, start);
		for (let i = 0; i < 5; i++) {
			guard.set(start + i);
			const admitted = await guard.stub.admit(guard.rule);
			if (admitted.admitted) await guard.stub.release([admitted.leaseId]);
		}
		// The first hit ages out: memory skips it, and the first sweep deletes it.
		guard.set(start + 60_000);
		const sixth = await guard.stub.admit(guard.rule);
		expect(sixth).toMatchObject({ admitted: true, rate: { state: { remaining: 0 } } });
		if (sixth.admitted) await guard.stub.release([sixth.leaseId]);
		expect(await guard.rows("hits")).toBe(5);
		// Two more age out within the second after that sweep: skipped at once, deleted at the next due sweep.
		guard.set(start + 60_002);
		for (let i = 0; i < 2; i++) {
			const admitted = await guard.stub.admit(guard.rule);
			expect(admitted.admitted).toBe(true);
			if (admitted.admitted) await guard.stub.release([admitted.leaseId]);
		}
		expect(await guard.rows("hits")).toBe(7);
		await evictDurableObject(guard.stub);
		await guard.setClock();
		// The reloaded guard skipped the two aged rows it read, and swept them at once (its first sweep).
		expect(await guard.stub.admit(guard.rule)).toMatchObject({ admitted: false, reason: "rate" });
		expect(await guard.rows("hits")).toBe(5);
		// The last two of the first five age out: skipped, and left in the table until a second after that sweep.
		guard.set(start + 61_000);
		const fourth = await guard.stub.admit(guard.rule);
		expect(fourth).toMatchObject({ admitted: true, rate: { state: { remaining: 1 } } });
		if (fourth.admitted) await guard.stub.release([fourth.leaseId]);
		expect(await guard.rows("hits")).toBe(6);
		guard.set(start + 61_002);
		expect(await guard.stub.admit(guard.rule)).toMatchObject({ admitted: true, rate: { state: { remaining: 0 } } });
		expect(await guard.rows("hits")).toBe(5);
	});

	it("a hit that ages out while a sweep is due stops counting at once: memory's window is the table's rule at every step", async () => {
		const limit = 3;
		const account = await newAccount({ rate_limits: { pbx: limit } });
		const start = Date.UTC(2026, 0, 1);
		const guard = await guardOnClock(account.token, start);
		// The SQL rule, read from the table the guard writes (none before its first write).
		const liveRows = (now: number) =>
			runInDurableObject(guard.stub, (_: TokenGuard, state) => {
				const { sql } = state.storage;
				if (sql.exec("SELECT name FROM sqlite_master WHERE name = 'hits'").toArray().length === 0) return 0;
				return sql.exec<{ n: number }>("SELECT count(*) AS n FROM hits WHERE grp = 'pbx' AND at >= ?", now - 60_000 + 1).one().n;
			});
		// Hits 10 ms apart, then requests as each ages out: the first age-out runs a sweep, the
		// next ones come within the second after it, while the next sweep is due but not yet run.
		const times = [0, 10, 20, 60_000, 60_010, 60_020, 60_030, 60_040, 120_000, 120_015, 120_030];
		for (const offset of times) {
			const now = start + offset;
			guard.set(now);
			const live = await liveRows(now);
			const answer = await guard.stub.admit(guard.rule);
			// The SQL rule decides: admitted exactly when fewer than `limit` hits are at or after now - window + 1.
			expect({ offset, admitted: answer.admitted }).toEqual({ offset, admitted: live < limit });
			if (answer.admitted) await guard.stub.release([answer.leaseId]);
			const usage = await guard.stub.usage([{ group: "pbx", limit, windowMs: 60_000 }]);
			expect({ offset, remaining: usage.groups[0]?.state.remaining }).toEqual({
				offset,
				remaining: limit - (await liveRows(now)),
			});
		}
	});

	it("a write that throws leaves memory to be read again from the tables: the count stays exact", async () => {
		const account = await newAccount({ max_connections: 3 });
		const guard = await guardOnClock(account.token, Date.now());
		expect((await guard.stub.admit(guard.rule)).admitted).toBe(true);
		// The hit's insert fails after the lease's went in: both roll back together, and memory,
		// dropped, is read again from tables that hold only the admitted request's lease.
		await runInDurableObject(guard.stub, (_: TokenGuard, state) => {
			const { sql } = state.storage;
			const exec = sql.exec.bind(sql);
			let armed = true;
			Object.assign(sql, {
				exec: (query: string, ...bindings: unknown[]) => {
					if (armed && query.startsWith("INSERT INTO hits")) {
						armed = false;
						throw new Error("injected: disk full");
					}
					return exec(query, ...bindings);
				},
			});
		});
		const failed = await guard.stub.admit(guard.rule).then(
			() => "admitted",
			(error: Error) => error.message,
		);
		expect(failed).toContain("injected: disk full");
		expect(await guard.stub.connectionsInFlight()).toBe(1);
		expect((await guard.stub.admit(guard.rule)).admitted).toBe(true);
		expect((await guard.stub.admit(guard.rule)).admitted).toBe(true);
		expect(await guard.stub.admit(guard.rule)).toMatchObject({ admitted: false, reason: "connections" });
		expect(await guard.stub.connectionsInFlight()).toBe(3);
	});

	it("an answer leaves the principal out only for the load the caller named; a revocation still refuses at once", async () => {
		const account = await newAccount();
		const guard = await guardOnClock(account.token, Date.now());
		const first = await guard.stub.admit(guard.rule);
		expect(first.admitted && first.principal?.accountId).toBe(account.id);
		const tag = first.admitted ? first.principalTag : undefined;
		expect(tag).toBeTypeOf("string");
		const second = await guard.stub.admit({ ...guard.rule, principalTag: tag });
		expect(second).toMatchObject({ admitted: true, principalTag: tag });
		expect(second.admitted && second.principal).toBeUndefined();
		// A forget (an account change) makes the next load another one: the principal comes again.
		await guard.stub.forget();
		const third = await guard.stub.admit({ ...guard.rule, principalTag: tag });
		expect(third.admitted && third.principal?.accountId).toBe(account.id);
		expect(third.admitted && third.principalTag).not.toBe(tag);

		// Through the Worker, whose isolate holds the principal: the logout's revocation wins at once.
		expect((await call("/api/auth/me", { token: account.token })).status).toBe(200);
		expect((await call("/api/auth/me", { token: account.token })).status).toBe(200);
		expect((await call("/api/auth/logout", { method: "POST", token: account.token })).status).toBe(204);
		const after = await burst(5, () => call("/api/auth/me", { token: account.token }));
		expect(after.map((response) => response.status)).toEqual([401, 401, 401, 401, 401]);
	});
});
