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
}

export interface RateVerdict {
	group: string;
	windowMs: number;
	/** The guard's clock when it decided; headers are relative to it. */
	now: number;
	state: WindowState;
	retryAfterSeconds?: number;
}

export type AdmitResult =
	| { admitted: true; principal: Principal; leaseId: string; rate: RateVerdict }
	| { admitted: false; reason: "unauthenticated" }
	| { admitted: false; reason: "connections" | "rate"; principal: Principal; rate: RateVerdict };

/** How long a token's principal (its account's limits) is trusted before D1 is read again. */
export const PRINCIPAL_TTL_MS = 60_000;

/**
 * One per token (named by the token's hash) and one per login identity: the token's
 * sliding-window counters and in-flight connection leases. A single RPC, `admit`,
 * authenticates the token (from a short-lived cache of its D1 row), checks the connection
 * cap, then the rate limit, and records both: the request path pays one round trip before
 * the handler. Methods of one object run one at a time, which is what makes counts exact.
 * Revoking a token or changing its account calls `forget`, so the cache never outlives them.
 */
export class TokenGuard extends DurableObject<Env> {
	/** Replaced in tests to drive the window without sleeping. */
	clock: () => number = () => Date.now();
	private cached?: { record: PrincipalRecord; loadedAt: number };

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		ctx.storage.sql.exec(`
			CREATE TABLE IF NOT EXISTS hits (grp TEXT NOT NULL, at INTEGER NOT NULL);
			CREATE INDEX IF NOT EXISTS hits_by_group ON hits (grp, at);
			CREATE TABLE IF NOT EXISTS leases (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
		`);
	}

	async admit(request: AdmitRequest): Promise<AdmitResult> {
		const now = this.clock();
		const record = await this.principalFor(request.tokenHash, now);
		if (!record) return { admitted: false, reason: "unauthenticated" };
		const { principal } = record;
		const rule = { group: request.group, limit: limitFor(request.group, principal.rateLimits), windowMs: request.windowMs };
		this.expireLeases(now);
		const before = this.peek(rule, now);
		if (this.inFlight() >= principal.maxConnections) return { admitted: false, reason: "connections", principal, rate: before };
		if (before.state.remaining === 0) return { admitted: false, reason: "rate", principal, rate: before };
		const leaseId = crypto.randomUUID();
		this.ctx.storage.sql.exec("INSERT INTO leases (id, expires_at) VALUES (?, ?)", leaseId, now + request.leaseMs);
		return { admitted: true, principal, leaseId, rate: this.record(rule, before, now) };
	}

	/** Drops the cached principal: the token was revoked or its account changed. */
	forget(): void {
		this.cached = undefined;
	}

	/** Rate limit only, for callers that hold no connection (login attempts). */
	hit(rule: RateRule): { admitted: boolean; rate: RateVerdict } {
		const now = this.clock();
		const before = this.peek(rule, now);
		if (before.state.remaining === 0) return { admitted: false, rate: before };
		return { admitted: true, rate: this.record(rule, before, now) };
	}

	release(leaseId: string): void {
		this.ctx.storage.sql.exec("DELETE FROM leases WHERE id = ?", leaseId);
	}

	/** Keeps a long-lived stream's slot; false when the lease already lapsed. */
	renew(leaseId: string, leaseMs: number): boolean {
		const cursor = this.ctx.storage.sql.exec("UPDATE leases SET expires_at = ? WHERE id = ?", this.clock() + leaseMs, leaseId);
		return cursor.rowsWritten > 0;
	}

	connectionsInFlight(): number {
		this.expireLeases(this.clock());
		return this.inFlight();
	}

	private async principalFor(tokenHash: string, now: number): Promise<PrincipalRecord | null> {
		if (!this.cached || now - this.cached.loadedAt >= PRINCIPAL_TTL_MS || now < this.cached.loadedAt) {
			const record = await lookupPrincipal(this.env.DB, tokenHash);
			if (!record) return null;
			this.cached = { record, loadedAt: now };
		}
		return isExpired(this.cached.record, now) ? null : this.cached.record;
	}

	private inFlight(): number {
		return this.ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM leases").one().n;
	}

	private expireLeases(now: number): void {
		this.ctx.storage.sql.exec("DELETE FROM leases WHERE expires_at <= ?", now);
	}

	/** The window's state at `now`; for a full window, also when the next request may come. */
	private peek(rule: RateRule, now: number): RateVerdict {
		const { sql } = this.ctx.storage;
		sql.exec("DELETE FROM hits WHERE grp = ? AND at < ?", rule.group, windowStart(now, rule.windowMs));
		const { count, newest } = sql
			.exec<{ count: number; newest: number | null }>(
				"SELECT count(*) AS count, max(at) AS newest FROM hits WHERE grp = ?",
				rule.group,
			)
			.one();
		const state = windowState(count, newest ?? undefined, now, rule.limit, rule.windowMs);
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

	private record(rule: RateRule, before: RateVerdict, now: number): RateVerdict {
		this.ctx.storage.sql.exec("INSERT INTO hits (grp, at) VALUES (?, ?)", rule.group, now);
		const count = before.state.limit - before.state.remaining + 1;
		return { ...before, state: windowState(count, now, now, rule.limit, rule.windowMs) };
	}
}
