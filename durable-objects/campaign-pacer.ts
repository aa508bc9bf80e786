import { DurableObject } from "cloudflare:workers";
import { type Dialer, dialerFor } from "../workers/dialer/dialer";
import { type AccountEvent, newEvent } from "../workers/events/event";
import { dispatchEvents, eventStatements } from "../workers/events/outbox";
import { type CampaignRow, type CampaignStatus, configFromRow, type PacerConfig } from "./campaign/config";
import { type CallOutcome, shouldRetry, startBudget } from "./campaign/pacing";
import { isWindowOpen, localTime, nextOpening, startOfNextLocalDay } from "./campaign/schedule";

interface PacerState {
	config: PacerConfig;
	status: CampaignStatus;
}

export interface StartedCall {
	callId: string;
	contactId: string;
	phone: string;
	attempt: number;
	startedAt: number;
}

/** A call the pacer started, as its own storage records it. */
export type PlacedCall = {
	id: string;
	contact_id: string;
	attempt: number;
	started_at: number;
	ended_at: number | null;
	outcome: string | null;
	local_date: string;
};

export interface CampaignSnapshot {
	status: CampaignStatus;
	contacts: { total: number; pending: number; in_flight: number; done: number };
	in_flight: number;
	calls_today: number;
	window_open: boolean;
	next_opening_at: string | null;
}

/** An action's outcome, with the live counters after it (so the caller needs no second call). */
export interface ActionResult {
	ok: boolean;
	status: CampaignStatus;
	live: CampaignSnapshot;
}

const STATE = "state";
const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());

/**
 * One per automated campaign: it alone decides when a call starts. Its SQLite storage holds
 * the contact queue, every call it started (with the local day it counts against) and the
 * campaign's status, so an eviction or restart loses nothing and dials nothing twice. Each
 * decision runs synchronously inside one event, so concurrent wake-ups, call ends and
 * actions cannot overshoot `max_concurrent_calls` or `max_calls_per_day`. D1 is kept up to
 * date afterwards, in order, for reads and the cron sweep.
 */
export class CampaignPacer extends DurableObject<Env> {
	/** Replaced in tests to drive time and to watch what is dialled. */
	clock: () => number = () => Date.now();
	dialer: Dialer;
	private mirror: Promise<unknown> = Promise.resolve();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.dialer = dialerFor(env);
		ctx.storage.sql.exec(`
			CREATE TABLE IF NOT EXISTS contacts (
				id TEXT PRIMARY KEY, phone TEXT NOT NULL, position INTEGER NOT NULL,
				state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_due_at INTEGER NOT NULL DEFAULT 0, last_outcome TEXT
			);
			CREATE INDEX IF NOT EXISTS contacts_due ON contacts (state, next_due_at, position);
			CREATE TABLE IF NOT EXISTS calls (
				id TEXT PRIMARY KEY, contact_id TEXT NOT NULL, attempt INTEGER NOT NULL,
				started_at INTEGER NOT NULL, deadline_at INTEGER NOT NULL, local_date TEXT NOT NULL,
				ended_at INTEGER, outcome TEXT,
				UNIQUE (contact_id, attempt)
			);
			CREATE INDEX IF NOT EXISTS calls_by_day ON calls (local_date);
			CREATE INDEX IF NOT EXISTS calls_open ON calls (ended_at, deadline_at);
			CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL);
		`);
	}

	/** Loads the campaign from D1 on first use, then starts whatever may start now. */
	async wake(campaignId: string): Promise<CampaignSnapshot> {
		await this.load(campaignId);
		await this.settle(this.pump());
		return this.snapshot();
	}

	/** A PATCH changed pacing or the window; lowering caps never touches live calls. Answers the live counters. */
	async configure(campaignId: string, config: PacerConfig): Promise<CampaignSnapshot> {
		const state = await this.load(campaignId);
		if (config.version > state.config.version) {
			this.save({ ...state, config });
			await this.settle(this.pump());
		}
		return this.snapshot();
	}

	async pause(campaignId: string): Promise<ActionResult> {
		return this.transition(campaignId, (status) => {
			if (status === "paused") return { to: status };
			if (status === "scheduled" || status === "active") return { to: "paused", event: "campaign.paused" };
			return null;
		});
	}

	/** Continues where it stopped: `scheduled` while the start is still ahead, else `active`. */
	async resume(campaignId: string): Promise<ActionResult> {
		return this.transition(campaignId, (status, config) => {
			if (status === "scheduled" || status === "active") return { to: status };
			if (status !== "paused") return null;
			const ahead = config.window.scheduledAt !== null && this.clock() < config.window.scheduledAt;
			return { to: ahead ? "scheduled" : "active", event: "campaign.resumed" };
		});
	}

	async cancel(campaignId: string): Promise<ActionResult> {
		return this.transition(campaignId, (status) => {
			if (status === "cancelled") return { to: status };
			if (status === "completed" || status === "failed") return null;
			return { to: "cancelled", event: "campaign.cancelled" };
		});
	}

	/** A call reached its final state: free its slot and refill it at once. Repeats change nothing. */
	async callEnded(campaignId: string, callId: string, outcome: CallOutcome): Promise<boolean> {
		await this.load(campaignId);
		const ended = this.endCall(callId, outcome, this.clock());
		if (!ended) return false;
		await this.settle(this.pump());
		return true;
	}

	override async alarm(): Promise<void> {
		const state = this.state();
		if (!state) return;
		const now = this.clock();
		const expired = this.sql<{ id: string }>("SELECT id FROM calls WHERE ended_at IS NULL AND deadline_at <= ?", now);
		const timedOut = expired.filter((call) => this.endCall(call.id, "timeout", now)).map((call) => call.id);
		if (timedOut.length) this.mirrorTimeouts(timedOut, now);
		await this.settle(this.pump());
	}

	snapshot(): CampaignSnapshot {
		const state = this.requireState();
		const now = this.clock();
		const counts = Object.fromEntries(
			this.sql<{ state: string; n: number }>("SELECT state, count(*) AS n FROM contacts GROUP BY state").map((row) => [
				row.state,
				row.n,
			]),
		);
		const inFlight = this.inFlight();
		const opening = state.status === "active" || state.status === "scheduled" ? nextOpening(now, state.config.window) : null;
		return {
			status: state.status,
			contacts: {
				total: Object.values(counts).reduce((sum, n) => sum + n, 0),
				pending: counts.pending ?? 0,
				in_flight: counts.in_flight ?? 0,
				done: counts.done ?? 0,
			},
			in_flight: inFlight,
			calls_today: this.startedOn(localTime(now, state.config.window.timezone).date),
			window_open: isWindowOpen(now, state.config.window),
			next_opening_at: iso(opening),
		};
	}

	/** Every call this campaign started, for audits and invariant checks. */
	/** Loads the campaign if needed and reports its live counters, starting nothing. */
	async view(campaignId: string): Promise<CampaignSnapshot> {
		await this.load(campaignId);
		return this.snapshot();
	}

	/** Calls still in flight (what a provider has yet to report on). */
	openCalls(): { id: string; started_at: number }[] {
		return this.sql("SELECT id, started_at FROM calls WHERE ended_at IS NULL ORDER BY started_at, id");
	}

	callLog(): PlacedCall[] {
		return this.sql<PlacedCall>(
			"SELECT id, contact_id, attempt, started_at, ended_at, outcome, local_date FROM calls ORDER BY started_at, id",
		);
	}

	// --- decisions (synchronous: one event, no interleaving) ---

	/** Starts as many calls as the window, the slots and today's cap allow; sets the next alarm. */
	private pump(): { started: StartedCall[] } {
		const state = this.state();
		const result = { started: [] as StartedCall[] };
		if (!state) return result;
		const now = this.clock();
		const { config } = state;
		if (state.status === "scheduled" && (config.window.scheduledAt === null || now >= config.window.scheduledAt)) {
			this.save({ ...state, status: "active" });
			this.event("campaign.activated", now);
		}
		if (this.status() === "active" && isWindowOpen(now, config.window)) {
			const local = localTime(now, config.window.timezone);
			const budget = startBudget(config.maxConcurrent, this.inFlight(), config.maxPerDay, this.startedOn(local.date));
			const due = this.sql<{ id: string; phone: string; attempts: number }>(
				"SELECT id, phone, attempts FROM contacts WHERE state = 'pending' AND next_due_at <= ? ORDER BY next_due_at, position LIMIT ?",
				now,
				budget,
			);
			for (const contact of due) result.started.push(this.startCall(contact, now, local.date));
		}
		if (this.status() === "active" && this.count("SELECT count(*) AS n FROM contacts WHERE state != 'done'") === 0) {
			this.save({ ...this.requireState(), status: "completed" });
			this.event("campaign.completed", now);
		}
		this.scheduleAlarm(now);
		return result;
	}

	private startCall(contact: { id: string; phone: string; attempts: number }, now: number, localDate: string): StartedCall {
		const call: StartedCall = {
			callId: crypto.randomUUID(),
			contactId: contact.id,
			phone: contact.phone,
			attempt: contact.attempts + 1,
			startedAt: now,
		};
		const maxCallMs = Number(this.env.MAX_CALL_SECONDS || 900) * 1000;
		this.ctx.storage.sql.exec("UPDATE contacts SET state = 'in_flight', attempts = ? WHERE id = ?", call.attempt, contact.id);
		this.ctx.storage.sql.exec(
			"INSERT INTO calls (id, contact_id, attempt, started_at, deadline_at, local_date) VALUES (?, ?, ?, ?, ?, ?)",
			call.callId,
			contact.id,
			call.attempt,
			now,
			now + maxCallMs,
			localDate,
		);
		this.event("call.started", now, { call_id: call.callId, contact_id: call.contactId, to: call.phone, attempt: call.attempt });
		return call;
	}

	private endCall(callId: string, outcome: CallOutcome, now: number): boolean {
		const state = this.requireState();
		const [call] = this.sql<{ contact_id: string; attempt: number; ended_at: number | null }>(
			"SELECT contact_id, attempt, ended_at FROM calls WHERE id = ?",
			callId,
		);
		if (!call || call.ended_at !== null) return false;
		this.ctx.storage.sql.exec("UPDATE calls SET ended_at = ?, outcome = ? WHERE id = ?", now, outcome, callId);
		const retry = shouldRetry(outcome, call.attempt, state.config.retry);
		this.ctx.storage.sql.exec(
			"UPDATE contacts SET state = ?, next_due_at = ?, last_outcome = ? WHERE id = ?",
			retry ? "pending" : "done",
			retry ? now + state.config.retry.delayMs : 0,
			outcome,
			call.contact_id,
		);
		this.mirrorContact(call.contact_id, retry ? "pending" : "done", call.attempt, outcome);
		return true;
	}

	private transition(
		campaignId: string,
		decide: (status: CampaignStatus, config: PacerConfig) => { to: CampaignStatus; event?: string } | null,
	): Promise<ActionResult> {
		return this.load(campaignId).then(async (state) => {
			const decision = decide(state.status, state.config);
			if (!decision) return { ok: false, status: state.status, live: this.snapshot() };
			if (decision.to !== state.status) {
				this.save({ ...state, status: decision.to });
				if (decision.event) this.event(decision.event, this.clock());
				await this.settle(this.pump());
			}
			return { ok: true, status: this.status(), live: this.snapshot() };
		});
	}

	/** When the campaign next needs waking without outside help; calls ending wake it too. */
	private nextWake(now: number): number | null {
		const state = this.requireState();
		const { window } = state.config;
		const deadlines =
			this.sql<{ at: number | null }>("SELECT min(deadline_at) AS at FROM calls WHERE ended_at IS NULL")[0]?.at ?? null;
		let start: number | null = null;
		if (state.status === "active" || state.status === "scheduled") {
			const earliestDue =
				this.sql<{ at: number | null }>("SELECT min(next_due_at) AS at FROM contacts WHERE state = 'pending'")[0]?.at ?? null;
			if (earliestDue !== null) {
				const local = localTime(now, window.timezone);
				const capReached = state.config.maxPerDay !== null && this.startedOn(local.date) >= state.config.maxPerDay;
				const from = Math.max(earliestDue, capReached ? startOfNextLocalDay(now, window.timezone) : now);
				// Due now, window open, under the cap: only full slots hold it back, and a call ending wakes it.
				start =
					from <= now && state.status === "active" && isWindowOpen(now, window)
						? null
						: nextOpening(Math.max(from, now + 1), window);
			}
		}
		const candidates = [deadlines, start].filter((at): at is number => at !== null);
		return candidates.length ? Math.min(...candidates) : null;
	}

	private scheduleAlarm(now: number): void {
		const wake = this.nextWake(now);
		if (wake === null) void this.ctx.storage.deleteAlarm();
		else void this.ctx.storage.setAlarm(wake);
		this.wakeAt = wake;
	}

	private wakeAt: number | null = null;

	// --- effects (asynchronous, after the decision is stored) ---

	/**
	 * Records started calls and pending events in D1 (one transaction), dials the calls, and
	 * dispatches the events; a failed dial ends its call. Events left in the outbox by a crash
	 * go out with the next settle.
	 */
	private async settle({ started }: { started: StartedCall[] }): Promise<void> {
		const state = this.requireState();
		const { config } = state;
		const now = this.clock();
		this.mirrorCampaign(state.status, this.wakeAt);
		const outbox = this.sql<{ seq: number; event: string }>("SELECT seq, event FROM outbox ORDER BY seq");
		const events = outbox.map((row) => JSON.parse(row.event) as AccountEvent);
		if (started.length || events.length) {
			await this.enqueueMirror(async () => {
				await this.env.DB.batch([
					...started.flatMap((call) => [
						this.env.DB.prepare(
							`INSERT OR IGNORE INTO calls (id, account_id, kind, campaign_id, contact_id, attempt, to_phone, status, created_at, updated_at, started_at)
							 VALUES (?, ?, 'campaign', ?, ?, ?, ?, 'dialing', ?, ?, ?)`,
						).bind(
							call.callId,
							config.accountId,
							config.campaignId,
							call.contactId,
							call.attempt,
							call.phone,
							iso(now),
							iso(now),
							iso(call.startedAt),
						),
						this.env.DB.prepare("UPDATE campaign_contacts SET status = 'in_flight', attempts = ? WHERE id = ?").bind(
							call.attempt,
							call.contactId,
						),
					]),
					...eventStatements(this.env.DB, config.accountId, events),
				]);
				const flushed = outbox.at(-1)?.seq;
				if (flushed !== undefined) this.ctx.storage.sql.exec("DELETE FROM outbox WHERE seq <= ?", flushed);
			});
		}
		const failedDials = await Promise.all(
			started.map((call) =>
				this.dialer
					.place({
						callId: call.callId,
						accountId: config.accountId,
						campaignId: config.campaignId,
						to: call.phone,
						callerId: null,
					})
					.then(() => null)
					.catch((error: unknown) => {
						console.warn("dial failed", call.callId, error instanceof Error ? error.message : String(error));
						return call.callId;
					}),
			),
		);
		await dispatchEvents(this.env, config.accountId, events).catch((error: unknown) =>
			console.warn("event dispatch failed", error instanceof Error ? error.message : String(error)),
		);
		// Callers read D1 next (ETag, status): let the record catch up before answering.
		await this.mirror;
		for (const callId of failedDials) if (callId) await this.callEnded(config.campaignId, callId, "failed");
	}

	private mirrorCampaign(status: CampaignStatus, wakeAt: number | null): void {
		const { config } = this.requireState();
		void this.enqueueMirror(() =>
			this.env.DB.prepare(
				`UPDATE autocall_campaigns SET next_wake_at = ?2,
				        version = version + (status != ?1), status = ?1, updated_at = CASE WHEN status != ?1 THEN ?3 ELSE updated_at END
				  WHERE id = ?4`,
			)
				.bind(status, iso(wakeAt), iso(this.clock()), config.campaignId)
				.run(),
		);
	}

	private mirrorContact(contactId: string, status: string, attempts: number, outcome: string): void {
		void this.enqueueMirror(() =>
			this.env.DB.prepare("UPDATE campaign_contacts SET status = ?, attempts = ?, last_outcome = ? WHERE id = ?")
				.bind(status, attempts, outcome, contactId)
				.run(),
		);
	}

	private mirrorTimeouts(callIds: string[], now: number): void {
		void this.enqueueMirror(() =>
			this.env.DB.prepare(
				"UPDATE calls SET status = 'timeout', outcome = 'timeout', ended_at = ?, updated_at = ? WHERE id IN (SELECT value FROM json_each(?)) AND ended_at IS NULL",
			)
				.bind(iso(now), iso(now), JSON.stringify(callIds))
				.run(),
		);
	}

	/** D1 writes run one after another in the order decisions were made, so the record never goes back in time. */
	private enqueueMirror<T>(write: () => Promise<T>): Promise<void> {
		const next = this.mirror.then(write).then(
			() => undefined,
			(error: unknown) => console.error("campaign mirror write failed", error instanceof Error ? error.message : String(error)),
		);
		this.mirror = next;
		return next;
	}

	// --- storage ---

	private async load(campaignId: string): Promise<PacerState> {
		const existing = this.state();
		if (existing) return existing;
		const row = await this.env.DB.prepare("SELECT * FROM autocall_campaigns WHERE id = ?").bind(campaignId).first<CampaignRow>();
		if (!row) throw new Error(`campaign ${campaignId} does not exist`);
		const { results } = await this.env.DB.prepare(
			"SELECT id, phone, position, status, attempts FROM campaign_contacts WHERE campaign_id = ? ORDER BY position",
		)
			.bind(campaignId)
			.all<{ id: string; phone: string; position: number; status: string; attempts: number }>();
		// Another call may have loaded it while we read D1.
		const raced = this.state();
		if (raced) return raced;
		for (const contact of results) {
			this.ctx.storage.sql.exec(
				"INSERT OR IGNORE INTO contacts (id, phone, position, state, attempts) VALUES (?, ?, ?, ?, ?)",
				contact.id,
				contact.phone,
				contact.position,
				contact.status === "done" ? "done" : "pending",
				contact.attempts,
			);
		}
		const state: PacerState = { config: configFromRow(row), status: row.status === "draft" ? "scheduled" : row.status };
		this.save(state);
		// A campaign created to start at once is active from its first moment: say so once.
		if (state.status === "active") this.event("campaign.activated", this.clock());
		return state;
	}

	private state(): PacerState | undefined {
		return this.ctx.storage.kv.get<PacerState>(STATE);
	}

	private requireState(): PacerState {
		const state = this.state();
		if (!state) throw new Error("campaign not loaded");
		return state;
	}

	private status(): CampaignStatus {
		return this.requireState().status;
	}

	private save(state: PacerState): void {
		this.ctx.storage.kv.put(STATE, state);
	}

	/** Written to the outbox in the same step as the change it reports, so no event is lost. */
	private event(type: string, at: number, data: Record<string, unknown> = {}): void {
		const event = newEvent(
			type,
			{ campaign_id: this.requireState().config.campaignId, status: this.state()?.status, ...data },
			at,
		);
		this.ctx.storage.sql.exec("INSERT INTO outbox (event) VALUES (?)", JSON.stringify(event));
	}

	private inFlight(): number {
		return this.count("SELECT count(*) AS n FROM calls WHERE ended_at IS NULL");
	}

	private startedOn(localDate: string): number {
		return this.count("SELECT count(*) AS n FROM calls WHERE local_date = ?", localDate);
	}

	private count(query: string, ...bindings: unknown[]): number {
		return this.ctx.storage.sql.exec<{ n: number }>(query, ...bindings).one().n;
	}

	private sql<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): T[] {
		return this.ctx.storage.sql.exec<T>(query, ...bindings).toArray();
	}
}
