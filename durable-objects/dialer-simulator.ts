import { DurableObject } from "cloudflare:workers";
import type { OutboundCall } from "../workers/dialer/dialer";
import { applyProviderEvent } from "../workers/dialer/provider-events";
import { simulatedOutcome } from "./campaign/pacing";

/**
 * The `simulated` dialer provider: it plays a telephony provider for local runs and tests.
 * Each call rings at once and ends SIMULATED_CALL_SECONDS later with an outcome chosen by
 * the number's last digit; both arrive through the same path as a real provider's callbacks.
 */
export class DialerSimulator extends DurableObject<Env> {
	clock: () => number = () => Date.now();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		ctx.storage.sql.exec(
			"CREATE TABLE IF NOT EXISTS pending (call_id TEXT PRIMARY KEY, to_phone TEXT NOT NULL, started_at INTEGER NOT NULL, ends_at INTEGER NOT NULL)",
		);
	}

	async place(call: OutboundCall): Promise<void> {
		const now = this.clock();
		const seconds = Number(this.env.SIMULATED_CALL_SECONDS || 3);
		this.ctx.storage.sql.exec(
			"INSERT OR IGNORE INTO pending (call_id, to_phone, started_at, ends_at) VALUES (?, ?, ?, ?)",
			call.callId,
			call.to,
			now,
			now + seconds * 1000,
		);
		await this.reschedule();
		await applyProviderEvent(this.env, {
			event_id: `sim_${call.callId}_ringing`,
			call_id: call.callId,
			status: "ringing",
			occurred_at: new Date(now).toISOString(),
		});
	}

	override async alarm(): Promise<void> {
		const now = this.clock();
		const due = this.ctx.storage.sql
			.exec<{ call_id: string; to_phone: string; started_at: number }>(
				"SELECT call_id, to_phone, started_at FROM pending WHERE ends_at <= ?",
				now,
			)
			.toArray();
		for (const call of due) {
			const outcome = simulatedOutcome(call.to_phone);
			await applyProviderEvent(this.env, {
				event_id: `sim_${call.call_id}_final`,
				call_id: call.call_id,
				status: outcome,
				occurred_at: new Date(now).toISOString(),
				duration_seconds: outcome === "completed" ? Math.round((now - call.started_at) / 1000) : 0,
			});
			this.ctx.storage.sql.exec("DELETE FROM pending WHERE call_id = ?", call.call_id);
		}
		await this.reschedule();
	}

	private async reschedule(): Promise<void> {
		const next = this.ctx.storage.sql.exec<{ at: number | null }>("SELECT min(ends_at) AS at FROM pending").one().at;
		if (next === null) await this.ctx.storage.deleteAlarm();
		else await this.ctx.storage.setAlarm(next);
	}
}
