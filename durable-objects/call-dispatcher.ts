import { DurableObject } from "cloudflare:workers";
import { type DialResult, transient } from "../workers/dialer/dial-result";
import { type Dialer, dialerFor } from "../workers/dialer/dialer";
import { type AccountEvent, callCompletedEvent } from "../workers/events/event";
import { dispatchEvents, eventStatements } from "../workers/events/outbox";
import { nowIso } from "../workers/lib/time";
import { afterRefusal, d1RetryAt, dialDeadline, KEEP_SETTLED_MS, lateReason, tooLateToDial } from "./dial-schedule";

/** A click-to-call as the API or the cron backstop hands it over. */
export interface DialRequest {
	callId: string;
	accountId: string;
	to: string;
	callerId: string | null;
	/** Where the agent is rung first (the extension's SIP URI or forward number); null rings the customer directly. */
	agentLeg: string | null;
	/** How long ago the call was created, in the sender's clock. */
	ageMs: number;
}

/** A call row as D1 holds it: what a hand-over is made from. */
export interface QueuedCall {
	id: string;
	account_id: string;
	to_phone: string;
	caller_id: string | null;
	/** The calling extension's `sip_uri`, else its `forward_to`. */
	agent_leg: string | null;
	created_at: string;
}

/** `pending`: still to be placed; `placed`: the provider accepted it; `failed`: it will not ring. */
type DialState = "pending" | "placed" | "failed";
/** What D1 still lacks: nothing yet (not placed), the new status, the event dispatch, or nothing. */
type D1Step = "none" | "write" | "dispatch" | "done";

type DialRow = {
	call_id: string;
	account_id: string;
	to_phone: string;
	caller_id: string | null;
	agent_leg: string | null;
	/** The carrier's id for the call, once it took it. */
	provider_call_id: string | null;
	/** When the provider was first asked for this call: a later ask may find it already placed. */
	asked_at: number | null;
	state: DialState;
	failures: number;
	deadline_at: number;
	next_at: number;
	last_error: string | null;
	d1_step: D1Step;
	d1_failures: number;
	settled_at: number | null;
};

/** Dials handled by one alarm run; the rest run at once after it. */
const ALARM_BATCH = 25;

export const callDispatcherOf = (env: Env, accountId: string) =>
	env.CALL_DISPATCHER.get(env.CALL_DISPATCHER.idFromName(`account:${accountId}`));

/** Hands a committed call to its account's dispatcher; a call it already knows changes nothing. */
export function handOver(env: Env, call: QueuedCall, now = Date.now()): Promise<boolean> {
	return callDispatcherOf(env, call.account_id).enqueue({
		callId: call.id,
		accountId: call.account_id,
		to: call.to_phone,
		callerId: call.caller_id,
		agentLeg: call.agent_leg,
		ageMs: now - Date.parse(call.created_at),
	});
}

/**
 * One per account: places its click-to-call dials. A dial is stored before the request that
 * created the call answers, so a Worker that dies after answering loses nothing; it is
 * placed from the alarm, so provider latency and retries stay off the request path. One
 * alarm serves the whole table: due dials, D1 writes that still have to land, and the purge
 * of settled rows. A dial's outcome is stored before D1 hears of it, so a D1 failure is
 * retried without dialling again; the call id is the provider's idempotency key, so a crash
 * mid-dial that places it again does not ring twice.
 */
export class CallDispatcher extends DurableObject<Env> {
	/** Replaced in tests to drive time, jitter and the provider. */
	clock: () => number = () => Date.now();
	random: () => number = () => Math.random();
	dialer: Dialer;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.dialer = dialerFor(env);
		ctx.storage.sql.exec(`
			CREATE TABLE IF NOT EXISTS dials (
				call_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, to_phone TEXT NOT NULL, caller_id TEXT,
				state TEXT NOT NULL DEFAULT 'pending', failures INTEGER NOT NULL DEFAULT 0,
				deadline_at INTEGER NOT NULL, next_at INTEGER NOT NULL, last_error TEXT,
				d1_step TEXT NOT NULL DEFAULT 'none', d1_failures INTEGER NOT NULL DEFAULT 0, settled_at INTEGER
			);
			CREATE INDEX IF NOT EXISTS dials_due ON dials (next_at);
		`);
		// Objects created before carriers: their dials ring the customer directly, asked at most by an earlier run.
		const columns = new Set(
			ctx.storage.sql
				.exec<{ name: string }>("PRAGMA table_info(dials)")
				.toArray()
				.map((column) => column.name),
		);
		if (!columns.has("agent_leg")) ctx.storage.sql.exec("ALTER TABLE dials ADD COLUMN agent_leg TEXT");
		if (!columns.has("asked_at")) ctx.storage.sql.exec("ALTER TABLE dials ADD COLUMN asked_at INTEGER");
		if (!columns.has("provider_call_id")) ctx.storage.sql.exec("ALTER TABLE dials ADD COLUMN provider_call_id TEXT");
	}

	/** Stores the dial and wakes the alarm at once. Idempotent by call id: answers whether it was new. */
	async enqueue(call: DialRequest): Promise<boolean> {
		const now = this.clock();
		const { rowsWritten } = this.ctx.storage.sql.exec(
			`INSERT OR IGNORE INTO dials (call_id, account_id, to_phone, caller_id, agent_leg, deadline_at, next_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?)`,
			call.callId,
			call.accountId,
			call.to,
			call.callerId,
			call.agentLeg,
			dialDeadline(now, call.ageMs),
			now,
		);
		if (rowsWritten === 0) return false;
		await this.ctx.storage.setAlarm(now);
		return true;
	}

	override async alarm(): Promise<void> {
		const now = this.clock();
		this.ctx.storage.sql.exec("DELETE FROM dials WHERE d1_step = 'done' AND next_at <= ?", now);
		const due = this.rows("SELECT * FROM dials WHERE next_at <= ? ORDER BY next_at LIMIT ?", now, ALARM_BATCH);
		await Promise.all(due.map((row) => this.advance(row)));
		const next = this.ctx.storage.sql.exec<{ at: number | null }>("SELECT min(next_at) AS at FROM dials").one().at;
		if (next === null) await this.ctx.storage.deleteAlarm();
		else await this.ctx.storage.setAlarm(next);
	}

	private async advance(row: DialRow): Promise<void> {
		const current = row.state === "pending" ? await this.dial(row) : row;
		if (current.d1_step === "write" || current.d1_step === "dispatch") await this.tellD1(current);
	}

	private async dial(row: DialRow): Promise<DialRow> {
		if (tooLateToDial(this.clock(), row.deadline_at)) return this.settle(row, "failed", lateReason(row.failures, row.last_error));
		let result: DialResult;
		// Stored before the request goes out: after a crash mid-dial, the next ask knows an earlier one may have landed.
		const askedAt = this.clock();
		this.ctx.storage.sql.exec("UPDATE dials SET asked_at = coalesce(asked_at, ?) WHERE call_id = ?", askedAt, row.call_id);
		try {
			result = await this.dialer.place({
				callId: row.call_id,
				accountId: row.account_id,
				campaignId: null,
				to: row.to_phone,
				callerId: row.caller_id,
				agentId: null,
				agentLeg: row.agent_leg,
				machineDetection: false,
				firstAskedAt: row.asked_at,
			});
		} catch (error) {
			result = transient(error);
		}
		if (result.kind === "accepted") {
			if (result.providerCallId) {
				this.ctx.storage.sql.exec("UPDATE dials SET provider_call_id = ? WHERE call_id = ?", result.providerCallId, row.call_id);
			}
			return this.settle({ ...row, provider_call_id: result.providerCallId ?? null }, "placed", row.last_error);
		}
		if (result.kind === "permanent") return this.settle(row, "failed", result.reason);
		const next = afterRefusal(row.failures, row.deadline_at, this.clock(), result, this.random());
		if (next.kind === "fail") return this.settle(row, "failed", next.reason);
		this.ctx.storage.sql.exec(
			"UPDATE dials SET failures = ?, next_at = ?, last_error = ? WHERE call_id = ?",
			next.failures,
			next.at,
			result.reason,
			row.call_id,
		);
		return { ...row, failures: next.failures, next_at: next.at, last_error: result.reason };
	}

	/** The dial's outcome is final from here on; D1 is told next, as many times as it takes. */
	private settle(row: DialRow, state: "placed" | "failed", lastError: string | null): DialRow {
		const now = this.clock();
		this.ctx.storage.sql.exec(
			"UPDATE dials SET state = ?, last_error = ?, d1_step = 'write', settled_at = ?, next_at = ? WHERE call_id = ?",
			state,
			lastError,
			now,
			now,
			row.call_id,
		);
		return { ...row, state, last_error: lastError, d1_step: "write", settled_at: now, next_at: now };
	}

	private async tellD1(row: DialRow): Promise<void> {
		let step = row.d1_step;
		try {
			if (step === "write") step = row.state === "placed" ? await this.markDialing(row) : await this.writeFailure(row);
			if (step === "dispatch") {
				await dispatchEvents(this.env, row.account_id, [completedEvent(row)]);
				step = "done";
			}
			const now = this.clock();
			this.ctx.storage.sql.exec(
				"UPDATE dials SET d1_step = ?, d1_failures = 0, next_at = ? WHERE call_id = ?",
				step,
				step === "done" ? now + KEEP_SETTLED_MS : now,
				row.call_id,
			);
		} catch (error) {
			const failures = row.d1_failures + 1;
			console.error("call dispatcher: D1 step failed, will retry", row.call_id, step, errorMessage(error));
			this.ctx.storage.sql.exec(
				"UPDATE dials SET d1_step = ?, d1_failures = ?, next_at = ? WHERE call_id = ?",
				step,
				failures,
				d1RetryAt(failures, this.clock(), this.random()),
				row.call_id,
			);
		}
	}

	/** Only forward: a provider callback may already have moved the call past `dialing`. */
	private async markDialing(row: DialRow): Promise<D1Step> {
		// The carrier's id, whatever the status: a callback may have moved the call on already.
		await this.env.DB.prepare(
			`UPDATE calls SET status = CASE WHEN status = 'queued' THEN 'dialing' ELSE status END,
			        provider_call_id = coalesce(provider_call_id, ?), updated_at = ?
			  WHERE id = ? AND (status = 'queued' OR (? IS NOT NULL AND provider_call_id IS NULL))`,
		)
			.bind(row.provider_call_id, nowIso(this.clock()), row.call_id, row.provider_call_id)
			.run();
		return "done";
	}

	/** Ends the call as failed with its event, unless it already ended (then it keeps its outcome and event). */
	private async writeFailure(row: DialRow): Promise<D1Step> {
		const db = this.env.DB;
		const call = await db
			.prepare("SELECT status, ended_at, failure_reason FROM calls WHERE id = ?")
			.bind(row.call_id)
			.first<{ status: string; ended_at: string | null; failure_reason: string | null }>();
		if (!call) return "done";
		// Ended already: by this write, whose answer was lost (then only its dispatch is missing), or by something else.
		if (call.ended_at !== null) return call.status === "failed" && call.failure_reason === row.last_error ? "dispatch" : "done";
		const endedAt = nowIso(row.settled_at ?? this.clock());
		await db.batch([
			db
				.prepare(
					`UPDATE calls SET status = 'failed', outcome = 'failed', failure_reason = ?1, ended_at = ?2, updated_at = ?2
					  WHERE id = ?3 AND ended_at IS NULL`,
				)
				.bind(row.last_error, endedAt, row.call_id),
			...eventStatements(db, row.account_id, [completedEvent(row)]),
		]);
		return "dispatch";
	}

	private rows(query: string, ...bindings: unknown[]): DialRow[] {
		return this.ctx.storage.sql.exec<DialRow>(query, ...bindings).toArray();
	}
}

/** The call's one completion event, shaped as a provider's final callback makes it; its id is fixed, so retries add nothing. */
function completedEvent(row: DialRow): AccountEvent {
	return callCompletedEvent({
		callId: row.call_id,
		campaignId: null,
		to: row.to_phone,
		outcome: "failed",
		// A click-to-call has one attempt.
		attempt: 1,
		durationSeconds: null,
		failureReason: row.last_error,
		at: nowIso(row.settled_at ?? Date.now()),
	});
}

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));
