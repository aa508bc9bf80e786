import { DurableObject } from "cloudflare:workers";
import type { OutboundCall } from "../workers/dialer/dialer";
import { applyProviderEvent } from "../workers/dialer/provider-events";
import { simulatedOutcome } from "./campaign/pacing";

/**
 * The `simulated` dialer provider: it plays a telephony provider for local runs and tests,
 * through the same states the carriers report. Each call rings at once; a call that will be
 * picked up (by a person, or by a machine when detection is on) is answered a third of the
 * way in; it ends SIMULATED_CALL_SECONDS later with an outcome chosen by the number's last
 * digit. Every event arrives through the same path as a carrier's callbacks.
 */
export class DialerSimulator extends DurableObject<Env> {
	clock: () => number = () => Date.now();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		ctx.storage.sql.exec(
			`CREATE TABLE IF NOT EXISTS pending (call_id TEXT PRIMARY KEY, to_phone TEXT NOT NULL, started_at INTEGER NOT NULL, ends_at INTEGER NOT NULL,
			   answers_at INTEGER, machine_detection INTEGER NOT NULL DEFAULT 0)`,
		);
		const columns = new Set(
			ctx.storage.sql
				.exec<{ name: string }>("PRAGMA table_info(pending)")
				.toArray()
				.map((column) => column.name),
		);
		// Objects from before the answered state (a new one has the columns already): their calls end without one.
		if (!columns.has("answers_at")) ctx.storage.sql.exec("ALTER TABLE pending ADD COLUMN answers_at INTEGER");
		if (!columns.has("machine_detection"))
			ctx.storage.sql.exec("ALTER TABLE pending ADD COLUMN machine_detection INTEGER NOT NULL DEFAULT 0");
	}

	async place(call: OutboundCall): Promise<void> {
		const now = this.clock();
		const durationMs = Number(this.env.SIMULATED_CALL_SECONDS || 3) * 1000;
		const outcome = simulatedOutcome(call.to, call.machineDetection);
		const answered = outcome === "completed" || outcome === "voicemail";
		this.ctx.storage.sql.exec(
			"INSERT OR IGNORE INTO pending (call_id, to_phone, started_at, ends_at, answers_at, machine_detection) VALUES (?, ?, ?, ?, ?, ?)",
			call.callId,
			call.to,
			now,
			now + durationMs,
			answered ? now + Math.round(durationMs / 3) : null,
			call.machineDetection ? 1 : 0,
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
		const answering = this.ctx.storage.sql
			.exec<{ call_id: string; answers_at: number }>(
				"SELECT call_id, answers_at FROM pending WHERE answers_at <= ? AND ends_at > ?",
				now,
				now,
			)
			.toArray();
		for (const call of answering) {
			await applyProviderEvent(this.env, {
				event_id: `sim_${call.call_id}_answered`,
				call_id: call.call_id,
				status: "in_progress",
				occurred_at: new Date(call.answers_at).toISOString(),
			});
			this.ctx.storage.sql.exec("UPDATE pending SET answers_at = NULL WHERE call_id = ?", call.call_id);
		}
		const due = this.ctx.storage.sql
			.exec<{ call_id: string; to_phone: string; started_at: number; machine_detection: number }>(
				"SELECT call_id, to_phone, started_at, machine_detection FROM pending WHERE ends_at <= ?",
				now,
			)
			.toArray();
		for (const call of due) {
			const outcome = simulatedOutcome(call.to_phone, call.machine_detection === 1);
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
		const next = this.ctx.storage.sql
			.exec<{ at: number | null }>("SELECT min(coalesce(answers_at, ends_at)) AS at FROM pending")
			.one().at;
		if (next === null) await this.ctx.storage.deleteAlarm();
		else await this.ctx.storage.setAlarm(next);
	}
}
