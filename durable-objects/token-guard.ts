import { DurableObject } from "cloudflare:workers";
import type { Principal } from "../workers/auth/principal";
import { isExpired, lookupPrincipal, type PrincipalRecord } from "../workers/auth/principal-lookup";
import { limitFor, type RateLimitGroup } from "../workers/guard/rate-limit-groups";
import { blockingHitIndex, HitTimes, retryAfterSeconds, type WindowState, windowStart, windowState } from "./sliding-window";

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
	/**
	 * The `principalTag` of the principal the caller already holds: when it is still the one
	 * this guard authenticates with, the answer leaves the principal out.
	 */
	principalTag?: string;
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

/**
 * The principal the token authenticated as, and its tag (which load of the token's row it
 * is). `principal` is absent when the request's `principalTag` named this same load: the
 * caller holds it already. Every admit still authenticates against the guard's own copy, which
 * a `forget` drops, so leaving it out never lets a revoked token through.
 */
export interface Authenticated {
	principal?: Principal;
	principalTag?: string;
}

export type AdmitResult =
	| ({ admitted: true; leaseId: string; rate: RateVerdict } & Authenticated)
	| { admitted: false; reason: "unauthenticated" }
	| ({ admitted: false; reason: "connections" | "rate"; rate: RateVerdict } & Authenticated);

/** How long a token's principal (its account's limits) is trusted before D1 is read again. */
export const PRINCIPAL_TTL_MS = 60_000;

/**
 * Reads of a token's row that a `forget` overtook before one is trusted: the last is used
 * for the request that asked (it started before the forget answered) but never cached.
 */
const LOOKUP_ATTEMPTS = 2;

/**
 * Aged hits stay in the table (memory skips them) until a sweep deletes them, at most this
 * often per group: one `DELETE` a second instead of one per request. Loads skip aged rows,
 * so what a sweep has not reached yet is never counted.
 */
const HIT_SWEEP_EVERY_MS = 1_000;

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
	/** The token's row as last loaded, with its tag: handed out as is on each admit, never copied. */
	private cached?: { record: PrincipalRecord & { tag: string }; loadedAt: number };
	/** Loads of the token's row this instance cached: with the instance id, each one's tag. */
	private loads = 0;
	/** Bumped by every `forget`: a lookup that began before one may carry the old row. */
	private generation = 0;
	private schemaReady = false;
	/**
	 * The state that decides an admit, kept in memory as well as in the tables, so an admit
	 * reads nothing: each group's live hits and every lease's expiry. Read from the tables on
	 * first use (a new instance after eviction or restart: the tables are what lasts); every
	 * write goes to the table first and to memory once it succeeded, and a write that throws
	 * drops the copies, to be read again.
	 */
	private readonly windows = new Map<string, HitTimes>();
	private leaseExpiries?: Map<string, number>;
	/** Per group: when its aged rows were last deleted, and whether memory skipped any since. */
	private readonly sweeps = new Map<string, { at: number; due: boolean; seen: number }>();
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
		this.dropLeases(request.releases ?? []);
		const record = await this.principalFor(request.tokenHash, this.clock());
		// Read again after the token's row came (D1 may take a while): a hit stamped before its
		// admission would age out early and let one more request into that window, and a token
		// that expired meanwhile would still get in.
		const now = this.clock();
		if (!record || isExpired(record, now)) return { admitted: false, reason: "unauthenticated" };
		const { principal } = record;
		const known = record.tag !== undefined && record.tag === request.principalTag;
		const authenticated: Authenticated = known ? { principalTag: record.tag } : { principal, principalTag: record.tag };
		const rule = { group: request.group, limit: limitFor(request.group, principal.rateLimits), windowMs: request.windowMs };
		// From here to the writes nothing awaits: no other call runs between the counts and the records.
		const leases = this.liveLeases(now);
		const before = this.peek(rule, now);
		if (leases.size >= principal.maxConnections)
			return { admitted: false, reason: "connections", rate: before, ...authenticated };
		if (before.state.remaining === 0) return { admitted: false, reason: "rate", rate: before, ...authenticated };
		const leaseId = crypto.randomUUID();
		const expiresAt = now + request.leaseMs;
		// One transaction: a lease whose hit failed would hold a slot for LEASE_MS for a request that never ran.
		this.writing(() =>
			this.ctx.storage.transactionSync(() => {
				this.sql.exec("INSERT INTO leases (id, expires_at) VALUES (?, ?)", leaseId, expiresAt);
				this.sql.exec("INSERT INTO hits (grp, at) VALUES (?, ?)", rule.group, now);
			}),
		);
		leases.set(leaseId, expiresAt);
		return { admitted: true, leaseId, rate: this.recorded(rule, before, now), ...authenticated };
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
		const hitId = this.writing(
			() =>
				this.sql.exec<{ id: number }>("INSERT INTO hits (grp, at) VALUES (?, ?) RETURNING rowid AS id", rule.group, now).one().id,
		);
		const rate = this.recorded(rule, before, now);
		const expiresAt = now + rule.windowMs;
		this.ctx.storage.kv.put(HITS_EXPIRE_AT, expiresAt);
		await this.ctx.storage.setAlarm(expiresAt);
		return { admitted: true, rate, hitId };
	}

	/** Gives back a hit's unit: the attempt was refused by another bucket, or did not count. */
	refund(hitId: number): void {
		this.counted("refund");
		const refunded = this.writing(() =>
			this.sql.exec<{ grp: string; at: number }>("DELETE FROM hits WHERE rowid = ? RETURNING grp, at", hitId).toArray(),
		);
		for (const { grp, at } of refunded) this.windows.get(grp)?.remove(at);
	}

	/**
	 * Once every hit has aged out, deletes the object's storage (tables, alarm, all): nothing
	 * in it can matter again. An alarm that comes early (clock skew) waits for the last hit.
	 */
	override async alarm(): Promise<void> {
		const now = this.clock();
		const expiresAt = this.ctx.storage.kv.get<number>(HITS_EXPIRE_AT) ?? now;
		if (now < expiresAt) return await this.ctx.storage.setAlarm(expiresAt);
		if (this.liveLeases(now).size > 0) {
			// Not a login bucket after all: keep its leases, drop only the hits.
			this.writing(() => this.sql.exec("DELETE FROM hits"));
			this.windows.clear();
			this.ctx.storage.kv.delete(HITS_EXPIRE_AT);
			return;
		}
		this.forgetState();
		await this.ctx.storage.deleteAll();
		this.schemaReady = false;
	}

	release(leaseIds: readonly string[]): void {
		this.counted("release");
		this.dropLeases(leaseIds);
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
			this.dropLeases([leaseId]);
			return false;
		}
		const now = this.clock();
		const leases = this.liveLeases(now);
		if (!leases.has(leaseId)) return false;
		const expiresAt = now + leaseMs;
		this.writing(() => this.sql.exec("UPDATE leases SET expires_at = ? WHERE id = ?", expiresAt, leaseId));
		leases.set(leaseId, expiresAt);
		return true;
	}

	connectionsInFlight(): number {
		this.counted("connectionsInFlight");
		return this.liveLeases(this.clock()).size;
	}

	/**
	 * Each rule's window as it stands and the connections in flight, for a token's own view of
	 * its limits: nothing is recorded, so reading one group's state costs no other group budget.
	 */
	usage(rules: readonly RateRule[]): GuardUsage {
		this.counted("usage");
		const now = this.clock();
		return { now, groups: rules.map((rule) => this.peek(rule, now)), inFlight: this.liveLeases(now).size };
	}

	/** The token's principal with its tag, which only a cached load has (one a `forget` overtook has none). */
	private async principalFor(tokenHash: string, now: number): Promise<(PrincipalRecord & { tag?: string }) | null> {
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
	private async lookup(tokenHash: string, now: number): Promise<(PrincipalRecord & { tag?: string }) | null> {
		for (let attempt = 1; ; attempt++) {
			const generation = this.generation;
			const record = await lookupPrincipal(this.env.DB, tokenHash);
			if (generation === this.generation) {
				if (!record) return null;
				const tagged = { ...record, tag: `${this.rpc.instance}:${++this.loads}` };
				this.cached = { record: tagged, loadedAt: now };
				return tagged;
			}
			if (attempt >= LOOKUP_ATTEMPTS) return record;
		}
	}

	/** Frees the slots of answered requests: gone from the table, then from memory. */
	private dropLeases(leaseIds: readonly string[]): void {
		if (leaseIds.length === 0) return;
		this.writing(() => {
			for (const leaseId of leaseIds) this.sql.exec("DELETE FROM leases WHERE id = ?", leaseId);
		});
		for (const leaseId of leaseIds) this.leaseExpiries?.delete(leaseId);
	}

	/**
	 * Leases that have not lapsed, by id (loaded from the table on first use). A lapsed one (its
	 * request died without releasing it: rare) is deleted from the table when it is found.
	 */
	private liveLeases(now: number): Map<string, number> {
		let leases = this.leaseExpiries;
		if (!leases) {
			const rows = this.sql.exec<{ id: string; expires_at: number }>("SELECT id, expires_at FROM leases").toArray();
			leases = new Map(rows.map((row) => [row.id, row.expires_at]));
			this.leaseExpiries = leases;
		}
		let lapsed = false;
		for (const expiresAt of leases.values()) lapsed ||= expiresAt <= now;
		if (lapsed) {
			this.writing(() => this.sql.exec("DELETE FROM leases WHERE expires_at <= ?", now));
			for (const [id, expiresAt] of leases) if (expiresAt <= now) leases.delete(id);
		}
		return leases;
	}

	/** A group's live hits at `now` (loaded from the table on first use); the table's aged rows are swept when due. */
	private liveHits(group: string, now: number, windowMs: number): HitTimes {
		const start = windowStart(now, windowMs);
		const sweep = this.sweeps.get(group) ?? { at: Number.NEGATIVE_INFINITY, due: false, seen: Number.NEGATIVE_INFINITY };
		// A clock set back can bring a hit memory already let go back into the window, while the
		// table may still hold it (until its sweep): read the table again, so the answer is the
		// one a freshly loaded guard would give.
		if (now < sweep.seen) this.windows.delete(group);
		sweep.seen = now;
		let hits = this.windows.get(group);
		if (!hits) {
			const rows = this.sql.exec<{ at: number }>("SELECT at FROM hits WHERE grp = ? ORDER BY at", group).toArray();
			hits = new HitTimes(rows.map((row) => row.at));
			this.windows.set(group, hits);
		}
		// Dropped on every call, whether or not a sweep is already due: memory must count what the
		// table's rule counts (`at >= now - window + 1`) at each moment, not a second late.
		const aged = hits.dropOlderThan(start);
		sweep.due ||= aged > 0;
		if (sweep.due && (now - sweep.at >= HIT_SWEEP_EVERY_MS || now < sweep.at)) {
			this.writing(() => this.sql.exec("DELETE FROM hits WHERE grp = ? AND at < ?", group, start));
			sweep.at = now;
			sweep.due = false;
		}
		this.sweeps.set(group, sweep);
		return hits;
	}

	/**
	 * Runs a write; if it throws, drops the in-memory copies (the table may or may not hold the
	 * write), so the next call reads them again from what storage kept.
	 */
	private writing<T>(write: () => T): T {
		try {
			return write();
		} catch (error) {
			this.forgetState();
			throw error;
		}
	}

	private forgetState(): void {
		this.windows.clear();
		this.sweeps.clear();
		this.leaseExpiries = undefined;
	}

	/** The window's state at `now`; for a full window, also when the next request may come. */
	private peek(rule: RateRule, now: number): RateVerdict {
		const hits = this.liveHits(rule.group, now, rule.windowMs);
		const { count } = hits;
		const state = windowState(count, hits.newest, now, rule.limit, rule.windowMs);
		const verdict: RateVerdict = { group: rule.group, windowMs: rule.windowMs, now, state };
		if (state.remaining === 0) {
			const blocking = hits.at(blockingHitIndex(count, rule.limit)) ?? now;
			verdict.retryAfterSeconds = retryAfterSeconds(blocking, now, rule.windowMs);
		}
		return verdict;
	}

	/** Memory's side of a hit the table now holds; the window as it stands after it. */
	private recorded(rule: RateRule, before: RateVerdict, now: number): RateVerdict {
		this.windows.get(rule.group)?.add(now);
		const count = before.state.limit - before.state.remaining + 1;
		return { ...before, state: windowState(count, now, now, rule.limit, rule.windowMs) };
	}
}
