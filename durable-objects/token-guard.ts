import { DurableObject } from "cloudflare:workers";
import type { Principal } from "../workers/auth/principal";
import { isExpired, lookupPrincipal, type PrincipalRecord } from "../workers/auth/principal-lookup";
import { limitFor, type RateLimitGroup } from "../workers/guard/rate-limit-groups";
import { blockingHitIndex, retryAfterSeconds, type WindowState, windowStart, windowState } from "./sliding-window";

export interface RateRule {
	group: string;
	limit: number;
	windowMs: number;
}

export interface AdmitRequest {
	tokenHash: string;
	group: RateLimitGroup;
	windowMs: number;
	leaseMs: number;
	/** Leases of this token's answered requests, dropped before anything is counted. */
	releases?: readonly string[];
}

export interface RateVerdict {
	group: string;
	windowMs: number;
	/** The guard's clock when it decided; headers are relative to it. */
	now: number;
	state: WindowState;
	retryAfterSeconds?: number;
}

/** The RPC calls one guard object received since it was loaded (`rpcCounts`), by method. */
export interface RpcCounts {
	/** Random per load of the object: two reads with different ids straddle an eviction. */
	instance: string;
	calls: Partial<Record<GuardMethod, number>>;
}

export type GuardMethod = "admit" | "forget" | "hit" | "refund" | "release" | "renew" | "connectionsInFlight" | "usage";

/** Every group's window and the connections in flight, as `usage` reads them. */
export interface GuardUsage {
	now: number;
	groups: RateVerdict[];
	inFlight: number;
}

export type AdmitResult =
	| { admitted: true; principal: Principal; leaseId: string; rate: RateVerdict }
	| { admitted: false; reason: "unauthenticated" }
	| { admitted: false; reason: "connections" | "rate"; principal: Principal; rate: RateVerdict };

/** How long a token's principal (its account's limits) is trusted before D1 is read again. */
export const PRINCIPAL_TTL_MS = 60_000;

/**
 * Reads of a token's row that a `forget` overtook before one is trusted: the last is used
 * for the request that asked (it started before the forget answered) but never cached.
 */
const LOOKUP_ATTEMPTS = 2;

/** Storage key: when every hit `hit` recorded has aged out (the cleanup alarm's time). */
const HITS_EXPIRE_AT = "hits_expire_at";

const SCHEMA = `
	CREATE TABLE IF NOT EXISTS hits (grp TEXT NOT NULL, at INTEGER NOT NULL);
	CREATE INDEX IF NOT EXISTS hits_by_group ON hits (grp, at);
	CREATE TABLE IF NOT EXISTS leases (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
`;

export interface HitResult {
	admitted: boolean;
	rate: RateVerdict;
	/** The recorded hit, for `refund`; only when admitted. */
	hitId?: number;
}

/**
 * One per token (named by the token's hash) and one per login identity: the token's
 * sliding-window counters and in-flight connection leases. A single RPC, `admit`,
 * authenticates the token (from a short-lived cache of its D1 row), checks the connection
 * cap, then the rate limit, and records both: the request path pays one round trip before
 * the handler. Methods of one object run one at a time, which is what makes counts exact.
 * Revoking a token or changing its account calls `forget`, so the cache never outlives them.
 * A login bucket (`hit` only) deletes its whole storage once its window is empty: one exists
 * per IP, username and pair ever tried, and an idle one must cost nothing.
 */
export class TokenGuard extends DurableObject<Env> {
	/** Replaced in tests to drive the window without sleeping. */
	clock: () => number = () => Date.now();
	private cached?: { record: PrincipalRecord; loadedAt: number };
	/** Bumped by every `forget`: a lookup that began before one may carry the old row. */
	private generation = 0;
	private schemaReady = false;
	/**
	 * Each group's live hits (rows of `hits`), kept beside the table: counting a full window of a
	 * busy token with `count(*)` scans every hit in it, on every request. Read from the table on
	 * first use; every statement that changes `hits` adjusts it by the rows it wrote. Memory goes
	 * with the object, so a reload (or a failed write, which resets the object) reads it again.
	 */
	private readonly hitCounts = new Map<string, number>();
	/**
	 * Every RPC call this object received, by method, in memory (a counter in storage would be
	 * one more write per call): the benchmark reads it around a fixed number of requests to
	 * count Durable Object round trips per guarded request. `rpcCounts` itself is not counted.
	 */
	private readonly rpc: RpcCounts = { instance: crypto.randomUUID(), calls: {} };

	private counted(method: GuardMethod): void {
		this.rpc.calls[method] = (this.rpc.calls[method] ?? 0) + 1;
	}

	rpcCounts(): RpcCounts {
		return this.rpc;
	}

	/** The tables, created on first use, so a login bucket whose storage was deleted stays empty until used. */
	private get sql(): SqlStorage {
		const { sql } = this.ctx.storage;
		if (!this.schemaReady) {
			sql.exec(SCHEMA);
			this.schemaReady = true;
		}
		return sql;
	}

	async admit(request: AdmitRequest): Promise<AdmitResult> {
		this.counted("admit");
		// Before the lookup: the slots are free whatever the token's fate.
		for (const leaseId of request.releases ?? []) this.dropLease(leaseId);
		const record = await this.principalFor(request.tokenHash, this.clock());
		// Read after the token's row came (D1 may take a while): a hit stamped before its
		// admission would age out early and let one more request into that window, and a token
		// that expired meanwhile would still get in.
		const now = this.clock();
		if (!record || isExpired(record, now)) return { admitted: false, reason: "unauthenticated" };
		const { principal } = record;
		const rule = { group: request.group, limit: limitFor(request.group, principal.rateLimits), windowMs: request.windowMs };
		this.expireLeases(now);
		const before = this.peek(rule, now);
		if (this.inFlight() >= principal.maxConnections) return { admitted: false, reason: "connections", principal, rate: before };
		if (before.state.remaining === 0) return { admitted: false, reason: "rate", principal, rate: before };
		const leaseId = crypto.randomUUID();
		this.sql.exec("INSERT INTO leases (id, expires_at) VALUES (?, ?)", leaseId, now + request.leaseMs);
		return { admitted: true, principal, leaseId, rate: this.record(rule, before, now) };
	}

	/**
	 * Drops the cached principal: the token was revoked or its account changed. Lookups in
	 * flight see the generation move and do not cache what they read.
	 */
	forget(): void {
		this.counted("forget");
		this.cached = undefined;
		this.generation++;
	}

	/**
	 * Rate limit only, for callers that hold no connection (login buckets). Schedules the
	 * cleanup alarm for when this hit ages out.
	 */
	async hit(rule: RateRule): Promise<HitResult> {
		this.counted("hit");
		const now = this.clock();
		const before = this.peek(rule, now);
		if (before.state.remaining === 0) return { admitted: false, rate: before };
		const rate = this.record(rule, before, now);
		const hitId = this.sql.exec<{ id: number }>("SELECT last_insert_rowid() AS id").one().id;
		const expiresAt = now + rule.windowMs;
		this.ctx.storage.kv.put(HITS_EXPIRE_AT, expiresAt);
		await this.ctx.storage.setAlarm(expiresAt);
		return { admitted: true, rate, hitId };
	}

	/** Gives back a hit's unit: the attempt was refused by another bucket, or did not count. */
	refund(hitId: number): void {
		this.counted("refund");
		const refunded = this.sql.exec<{ grp: string }>("DELETE FROM hits WHERE rowid = ? RETURNING grp", hitId).toArray();
		for (const { grp } of refunded) this.countHits(grp, -1);
	}

	/**
	 * Once every hit has aged out, deletes the object's storage (tables, alarm, all): nothing
	 * in it can matter again. An alarm that comes early (clock skew) waits for the last hit.
	 */
	override async alarm(): Promise<void> {
		const now = this.clock();
		const expiresAt = this.ctx.storage.kv.get<number>(HITS_EXPIRE_AT) ?? now;
		if (now < expiresAt) return await this.ctx.storage.setAlarm(expiresAt);
		this.expireLeases(now);
		if (this.inFlight() > 0) {
			// Not a login bucket after all: keep its leases, drop only the hits.
			this.sql.exec("DELETE FROM hits");
			this.hitCounts.clear();
			this.ctx.storage.kv.delete(HITS_EXPIRE_AT);
			return;
		}
		await this.ctx.storage.deleteAll();
		this.hitCounts.clear();
		this.schemaReady = false;
	}

	release(leaseIds: readonly string[]): void {
		this.counted("release");
		for (const leaseId of leaseIds) this.dropLease(leaseId);
	}

	/**
	 * Keeps a running request's or a live stream's slot while its token still authenticates:
	 * false when the lease already lapsed, or when the token was revoked or expired (the slot
	 * is then released). A stream ends on false, so one opened with a token revoked since
	 * closes at its next renewal. The principal comes from the cache, so renewals read D1
	 * once per PRINCIPAL_TTL_MS, and once more after a `forget`.
	 */
	async renew(leaseId: string, leaseMs: number, tokenHash: string): Promise<boolean> {
		this.counted("renew");
		if (!(await this.principalFor(tokenHash, this.clock()))) {
			this.dropLease(leaseId);
			return false;
		}
		const cursor = this.sql.exec("UPDATE leases SET expires_at = ? WHERE id = ?", this.clock() + leaseMs, leaseId);
		return cursor.rowsWritten > 0;
	}

	connectionsInFlight(): number {
		this.counted("connectionsInFlight");
		this.expireLeases(this.clock());
		return this.inFlight();
	}

	/**
	 * Each rule's window as it stands and the connections in flight, for a token's own view of
	 * its limits: nothing is recorded, so reading one group's state costs no other group budget.
	 */
	usage(rules: readonly RateRule[]): GuardUsage {
		this.counted("usage");
		const now = this.clock();
		this.expireLeases(now);
		return { now, groups: rules.map((rule) => this.peek(rule, now)), inFlight: this.inFlight() };
	}

	private async principalFor(tokenHash: string, now: number): Promise<PrincipalRecord | null> {
		const { cached } = this;
		const fresh = cached && now - cached.loadedAt < PRINCIPAL_TTL_MS && now >= cached.loadedAt;
		const record = fresh ? cached.record : await this.lookup(tokenHash, now);
		return record && !isExpired(record, now) ? record : null;
	}

	/**
	 * Reads the token's row. Other calls run while D1 answers, `forget` among them: a read it
	 * overtook may hold the row from before a revocation, so it is read again, and only a read
	 * no forget overtook is cached. So every request that starts after a revocation answered
	 * reads D1 afresh, and sees it.
	 */
	private async lookup(tokenHash: string, now: number): Promise<PrincipalRecord | null> {
		for (let attempt = 1; ; attempt++) {
			const generation = this.generation;
			const record = await lookupPrincipal(this.env.DB, tokenHash);
			if (generation === this.generation) {
				if (record) this.cached = { record, loadedAt: now };
				return record;
			}
			if (attempt >= LOOKUP_ATTEMPTS) return record;
		}
	}

	private dropLease(leaseId: string): void {
		this.sql.exec("DELETE FROM leases WHERE id = ?", leaseId);
	}

	private inFlight(): number {
		return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM leases").one().n;
	}

	private expireLeases(now: number): void {
		this.sql.exec("DELETE FROM leases WHERE expires_at <= ?", now);
	}

	/** The window's state at `now`; for a full window, also when the next request may come. */
	private peek(rule: RateRule, now: number): RateVerdict {
		const { sql } = this;
		const aged = sql.exec("DELETE FROM hits WHERE grp = ? AND at < ?", rule.group, windowStart(now, rule.windowMs));
		const count = this.hitCounts.has(rule.group)
			? this.countHits(rule.group, -aged.rowsWritten)
			: this.countHits(
					rule.group,
					0,
					sql.exec<{ n: number }>("SELECT count(*) AS n FROM hits WHERE grp = ?", rule.group).one().n,
				);
		// The newest hit is the last entry of the (grp, at) index: one seek, whatever the count.
		const newest =
			count === 0 ? undefined : sql.exec<{ at: number }>("SELECT max(at) AS at FROM hits WHERE grp = ?", rule.group).one().at;
		const state = windowState(count, newest, now, rule.limit, rule.windowMs);
		const verdict: RateVerdict = { group: rule.group, windowMs: rule.windowMs, now, state };
		if (state.remaining === 0) {
			const blocking = sql
				.exec<{ at: number }>(
					"SELECT at FROM hits WHERE grp = ? ORDER BY at LIMIT 1 OFFSET ?",
					rule.group,
					blockingHitIndex(count, rule.limit),
				)
				.one().at;
			verdict.retryAfterSeconds = retryAfterSeconds(blocking, now, rule.windowMs);
		}
		return verdict;
	}

	/** Adjusts (or, with `base`, sets) a group's count of live hits; returns it. */
	private countHits(group: string, delta: number, base = this.hitCounts.get(group) ?? 0): number {
		const count = base + delta;
		this.hitCounts.set(group, count);
		return count;
	}

	private record(rule: RateRule, before: RateVerdict, now: number): RateVerdict {
		this.sql.exec("INSERT INTO hits (grp, at) VALUES (?, ?)", rule.group, now);
		this.countHits(rule.group, 1);
		const count = before.state.limit - before.state.remaining + 1;
		return { ...before, state: windowState(count, now, now, rule.limit, rule.windowMs) };
	}
}
