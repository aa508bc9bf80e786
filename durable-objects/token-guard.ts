import { DurableObject } from "cloudflare:workers";
import { liveHits, retryAfterSeconds, type WindowState, windowState } from "./sliding-window";

export interface RateRule {
	group: string;
	limit: number;
	windowMs: number;
}

export interface AdmitRequest extends RateRule {
	maxConnections: number;
	leaseMs: number;
}

export interface RateVerdict {
	group: string;
	windowMs: number;
	state: WindowState;
	retryAfterSeconds?: number;
}

export type AdmitResult =
	| { admitted: true; leaseId: string; rate: RateVerdict }
	| { admitted: false; reason: "connections"; rate: RateVerdict }
	| { admitted: false; reason: "rate"; rate: RateVerdict };

/**
 * One per token (and one per login identity): the token's sliding-window counters and its
 * in-flight connection leases. A single RPC, `admit`, checks the connection cap, then the
 * rate limit, and records both, so the request path pays one round trip before the handler.
 * Durable Object methods run one at a time per object, which is what makes the counts exact.
 */
export class TokenGuard extends DurableObject<Env> {
	/** Replaced in tests to drive the window without sleeping. */
	clock: () => number = () => Date.now();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		ctx.storage.sql.exec(`
			CREATE TABLE IF NOT EXISTS hits (grp TEXT NOT NULL, at INTEGER NOT NULL);
			CREATE INDEX IF NOT EXISTS hits_by_group ON hits (grp, at);
			CREATE TABLE IF NOT EXISTS leases (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
		`);
	}

	admit(request: AdmitRequest): AdmitResult {
		const now = this.clock();
		this.expireLeases(now);
		const hits = this.hitsOf(request, now);
		const before = verdict(request, hits, now);
		if (this.inFlight() >= request.maxConnections) return { admitted: false, reason: "connections", rate: before };
		if (before.state.remaining === 0) return { admitted: false, reason: "rate", rate: before };
		const leaseId = crypto.randomUUID();
		this.ctx.storage.sql.exec("INSERT INTO leases (id, expires_at) VALUES (?, ?)", leaseId, now + request.leaseMs);
		return { admitted: true, leaseId, rate: this.record(request, hits, now) };
	}

	/** Rate limit only, for callers that hold no connection (login attempts). */
	hit(rule: RateRule): { admitted: boolean; rate: RateVerdict } {
		const now = this.clock();
		const hits = this.hitsOf(rule, now);
		const before = verdict(rule, hits, now);
		if (before.state.remaining === 0) return { admitted: false, rate: before };
		return { admitted: true, rate: this.record(rule, hits, now) };
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

	private inFlight(): number {
		return this.ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM leases").one().n;
	}

	private expireLeases(now: number): void {
		this.ctx.storage.sql.exec("DELETE FROM leases WHERE expires_at <= ?", now);
	}

	private hitsOf(rule: RateRule, now: number): number[] {
		this.ctx.storage.sql.exec("DELETE FROM hits WHERE grp = ? AND at <= ?", rule.group, now - rule.windowMs);
		const rows = this.ctx.storage.sql.exec<{ at: number }>("SELECT at FROM hits WHERE grp = ? ORDER BY at", rule.group).toArray();
		return liveHits(
			rows.map((row) => row.at),
			now,
			rule.windowMs,
		);
	}

	private record(rule: RateRule, hits: number[], now: number): RateVerdict {
		this.ctx.storage.sql.exec("INSERT INTO hits (grp, at) VALUES (?, ?)", rule.group, now);
		return verdict(rule, [...hits, now], now);
	}
}

function verdict(rule: RateRule, hits: readonly number[], now: number): RateVerdict {
	const state = windowState(hits, now, rule.limit, rule.windowMs);
	const result: RateVerdict = { group: rule.group, windowMs: rule.windowMs, state };
	if (state.remaining === 0) result.retryAfterSeconds = retryAfterSeconds(state, now);
	return result;
}
