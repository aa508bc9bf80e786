import { DurableObject } from "cloudflare:workers";
import {
	type ContactPolicy,
	type ContactPolicyRow,
	DEFAULT_CONTACT_POLICY,
	POLICY_COLUMNS,
	policyFromRow,
	recipientRule,
} from "../workers/compliance/contact-policy";
import { recipientZones, zoneKey, zonesOfKey } from "../workers/compliance/recipient-zone";
import { transient } from "../workers/dialer/dial-result";
import { type Dialer, type DialResult, dialerFor } from "../workers/dialer/dialer";
import { type AccountEvent, callCompletedEvent, newEvent } from "../workers/events/event";
import { dispatchEvents, eventStatements } from "../workers/events/outbox";
import { withDeadline } from "../workers/lib/deadline";
import { type CampaignRow, type CampaignStatus, configFromRow, type PacerConfig } from "./campaign/config";
import { type CallOutcome, shouldRetry, startBudget } from "./campaign/pacing";
import {
	AVAILABLE,
	afterAcceptance,
	afterRefusal,
	dialBudget,
	type ProviderHealth,
	presentHealth,
} from "./campaign/provider-health";
import { FAR_HORIZON_MS, isCallable, nextTurn, OPENING_HORIZON_MS, type RecipientRule } from "./campaign/recipient-hours";
import { type CampaignMirror, callStatement, campaignStatement, contactStatement, type PacerCall } from "./campaign/record";
import { isWindowOpen, localTime, nextOpening, startOfLocalDay, startOfNextLocalDay } from "./campaign/schedule";
import { contactLedgerOf, type PlacedAttempt } from "./contact-ledger";
import type { AttemptCap, ClaimAnswer, SkipReason } from "./ledger-claims";

interface PacerState {
	config: PacerConfig;
	status: CampaignStatus;
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
	contacts: { total: number; pending: number; in_flight: number; done: number; skipped: number };
	in_flight: number;
	calls_today: number;
	window_open: boolean;
	next_opening_at: string | null;
	provider: ReturnType<typeof presentHealth>;
}

/** An action's outcome, with the live counters after it (so the caller needs no second call). */
export interface ActionResult {
	ok: boolean;
	status: CampaignStatus;
	live: CampaignSnapshot;
}

/**
 * What a create hands its new pacer: the row its write just committed (RETURNING) and the
 * contacts it inserted, so the first load reads nothing back from D1.
 */
export interface CampaignSeed {
	row: CampaignRow;
	contacts: { id: string; phone: string; position: number; timezone: string | null }[];
	/** The account's contact policy as the create read it (in its own batch). */
	policy: ContactPolicy;
}

/**
 * A contact's state in the pacer. `skipped`: the contact policy refused its call (an unknown
 * time zone under `unknown_timezone: skip`, the do-not-call list, max_attempts_per_number); final, like `done`.
 */
type ContactState = "pending" | "in_flight" | "done" | "skipped";

/** A contact as the pacer's first load takes it in. */
type LoadedContact = {
	id: string;
	phone: string;
	position: number;
	state: Exclude<ContactState, "in_flight">;
	attempts: number;
	timezone: string | null;
};

/** A recorded call about to be dialled, as `dialRecorded` reads it. */
type DueCall = {
	id: string;
	contact_id: string;
	attempt: number;
	started_at: number;
	maybe_placed: number;
	asked: number;
	first_asked_at: number | null;
	first_caller_id: string | null;
	phone: string;
	/** The recipient's zone key (see recipient-zone.ts); null: unknown. */
	zone: string | null;
};

/** Calls D1 says have ended (or are still open) that the pacer may not know about: from the cron. */
export interface ReconcileReport {
	ended: { id: string; outcome: CallOutcome }[];
	open: string[];
}

const STATE = "state";
const POLICY = "policy";
const HEALTH = "provider";
const MIRRORED = "mirrored";
const RECORD_FAILURES = "record_failures";
const RECORD_RETRY_AT = "record_retry_at";
const LEDGER_FAILURES = "ledger_failures";
const LEDGER_RETRY_AT = "ledger_retry_at";
const SETTLE_FAILURES = "ledger_settle_failures";
/** Confirms and give-backs sent to the ledger per RPC; more go in the next round. */
const SETTLE_BATCH = 500;
const MAX_LEDGER_RETRY_MS = 60_000;
/** The deadline of a call not yet placed: it has no provider timer running. */
const NOT_PLACED = Number.MAX_SAFE_INTEGER;
/** Rows of the record written per D1 batch; more are written by the next round. */
const RECORD_BATCH = 200;
const MAX_RECORD_RETRY_MS = 60_000;
/** Contacts skipped per decision round: a campaign of unknown zones under `skip` is settled over a few rounds. */
const SKIPS_PER_ROUND = 1_000;
/** Why a contact ends `skipped` when the policy skips recipients of unknown zone. */
export const UNKNOWN_TIMEZONE = "unknown_timezone";
/**
 * Why a contact ends `skipped` when its recipient hours have no minute in common with the
 * campaign's window for a year ahead (a Tokyo number for a New York 09:00–17:00 campaign).
 */
export const NO_CALLING_HOURS = "no_calling_hours";
/** Why a contact ended `skipped`: its zone (this pacer's check) or its number (the contact ledger's). */
type ContactSkipReason = typeof UNKNOWN_TIMEZONE | typeof NO_CALLING_HOURS | SkipReason;
/** How a refusal for the campaign's own caller id begins (it waits like an outage; a new caller id ends the wait). */
const CALLER_ID_REFUSED = "Caller id";
const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * When a held call was last asked of the provider (calls of objects from before the column
 * have their first ask or start): any ask that got no answer may have placed it, so that is
 * when a call of it may have begun at the latest.
 */
const LAST_ASK = "coalesce(last_asked_at, first_asked_at, started_at)";
const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());

/**
 * One per automated campaign: it alone decides when a call starts. Its SQLite storage holds
 * the contact queue, every call it started (with the local day it counts against), the
 * campaign's status and the provider's health, so an eviction or restart loses nothing and
 * dials nothing twice. Each decision runs synchronously inside one event, so concurrent
 * wake-ups, call ends and actions cannot overshoot `max_concurrent_calls` or
 * `max_calls_per_day`.
 *
 * A started call goes through `recording` (its D1 row is being written: the pacer never
 * dials a call D1 does not have, or its callbacks would find nothing) → `dialing` (D1 has it;
 * the dial request is out, or is repeated after a crash with the same call id, which the
 * provider dedupes) → `placed` (the provider took it; a callback or the deadline ends it).
 * A transient refusal moves it to `backoff`: the day's count is given back and the contact
 * waits, with its attempt unused, until the provider is tried again. The slot is given back
 * too, unless no answer came (a timeout): then the provider may have placed the call, so it
 * keeps its slot (`maybe_placed`) until it is asked again under the same id.
 *
 * What D1 must learn is kept in a `sync` table (rows whose current state D1 lacks) and an
 * event `outbox`, written by one batch at a time and retried by the alarm until D1 confirms.
 *
 * Just before the provider is asked, each round's dials are cleared with the account's
 * contact ledger (one RPC): a number on the do-not-call list or out of attempts
 * (`max_attempts_per_number`) ends its contact `skipped`, one whose cap other campaigns'
 * unplaced dials fill waits, and a ledger that fails or does not answer dials nothing: those
 * calls wait, their attempts unused, and are asked again. After the round one more RPC tells
 * the ledger which calls the provider took (their counts become placed) and which were closed
 * undialled (their counts go back), kept in storage until the ledger has them.
 */
export class CampaignPacer extends DurableObject<Env> {
	/** Replaced in tests to drive time, jitter and the provider. */
	clock: () => number = () => Date.now();
	random: () => number = () => Math.random();
	dialer: Dialer;
	private driving: Promise<void> | null = null;
	private again = false;
	/** How long a round waits for the contact ledger's answer before its calls wait and are asked again. */
	ledgerTimeoutMs = 5_000;
	/** Dial requests this instance has out; after a restart, the `dialing` calls not in it are asked again. */
	private readonly dialsOut = new Set<string>();
	/** Events D1 has recorded, to push to streams and the webhook queue. */
	private readonly undispatched: AccountEvent[] = [];
	/** The distinct zone keys of the contacts (they never change once loaded); read on first need. */
	private zoneKeys: (string | null)[] | null = null;
	/** When this instance last decided what may start (pump); nextWake wakes for what came due since. */
	private decidedAt = Number.NEGATIVE_INFINITY;
	/** Each zone key's last common opening found, for the policy and config versions in its key (see commonOpening). */
	private readonly openings = new Map<string, { from: number; at: number | null }>();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.dialer = dialerFor(env);
		ctx.storage.sql.exec(`
			CREATE TABLE IF NOT EXISTS contacts (
				id TEXT PRIMARY KEY, phone TEXT NOT NULL, position INTEGER NOT NULL,
				state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_due_at INTEGER NOT NULL DEFAULT 0, last_outcome TEXT,
				zone TEXT, skip_reason TEXT
			);
			CREATE INDEX IF NOT EXISTS contacts_due ON contacts (state, next_due_at, position);
			CREATE TABLE IF NOT EXISTS calls (
				id TEXT PRIMARY KEY, contact_id TEXT NOT NULL, attempt INTEGER NOT NULL,
				started_at INTEGER NOT NULL, deadline_at INTEGER NOT NULL, local_date TEXT NOT NULL,
				ended_at INTEGER, outcome TEXT,
				stage TEXT NOT NULL DEFAULT 'placed', failure_reason TEXT, maybe_placed INTEGER NOT NULL DEFAULT 0,
				announced INTEGER NOT NULL DEFAULT 0, asked INTEGER NOT NULL DEFAULT 0,
				provider_call_id TEXT, first_asked_at INTEGER, first_caller_id TEXT, claimed INTEGER NOT NULL DEFAULT 0,
				placed_at INTEGER, last_asked_at INTEGER,
				UNIQUE (contact_id, attempt)
			);
			CREATE INDEX IF NOT EXISTS calls_by_day ON calls (local_date);
			CREATE INDEX IF NOT EXISTS calls_by_start ON calls (started_at);
			CREATE INDEX IF NOT EXISTS calls_open ON calls (ended_at, deadline_at);
			CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL);
			CREATE TABLE IF NOT EXISTS sync (kind TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (kind, id));
			CREATE TABLE IF NOT EXISTS ledger_releases (call_id TEXT PRIMARY KEY);
			CREATE TABLE IF NOT EXISTS ledger_confirms (call_id TEXT PRIMARY KEY, phone TEXT NOT NULL, at INTEGER NOT NULL);
		`);
		// Objects created before a column existed get it here (a new one has every column from the start).
		// Objects created before calls had stages: every call they hold was placed.
		const columns = new Set(this.sql<{ name: string }>("PRAGMA table_info(calls)").map((column) => column.name));
		if (!columns.has("stage")) ctx.storage.sql.exec("ALTER TABLE calls ADD COLUMN stage TEXT NOT NULL DEFAULT 'placed'");
		if (!columns.has("failure_reason")) ctx.storage.sql.exec("ALTER TABLE calls ADD COLUMN failure_reason TEXT");
		if (!columns.has("maybe_placed"))
			ctx.storage.sql.exec("ALTER TABLE calls ADD COLUMN maybe_placed INTEGER NOT NULL DEFAULT 0");
		if (!columns.has("provider_call_id")) ctx.storage.sql.exec("ALTER TABLE calls ADD COLUMN provider_call_id TEXT");
		if (!columns.has("first_asked_at")) ctx.storage.sql.exec("ALTER TABLE calls ADD COLUMN first_asked_at INTEGER");
		if (!columns.has("first_caller_id")) ctx.storage.sql.exec("ALTER TABLE calls ADD COLUMN first_caller_id TEXT");
		// Asked of the contact ledger (which may have counted it): a call closed undialled gives its count back.
		if (!columns.has("claimed")) ctx.storage.sql.exec("ALTER TABLE calls ADD COLUMN claimed INTEGER NOT NULL DEFAULT 0");
		// When the provider was seen to take the call: set once, and confirmed to the ledger (ledger_confirms) then.
		if (!columns.has("placed_at")) ctx.storage.sql.exec("ALTER TABLE calls ADD COLUMN placed_at INTEGER");
		if (!columns.has("last_asked_at")) ctx.storage.sql.exec("ALTER TABLE calls ADD COLUMN last_asked_at INTEGER");
		const contactColumns = new Set(this.sql<{ name: string }>("PRAGMA table_info(contacts)").map((column) => column.name));
		if (!contactColumns.has("zone")) {
			// Loaded before contacts had their own timezone: the number is all there was to go by.
			ctx.storage.sql.exec("ALTER TABLE contacts ADD COLUMN zone TEXT");
			for (const contact of this.sql<{ id: string; phone: string }>("SELECT id, phone FROM contacts")) {
				ctx.storage.sql.exec(
					"UPDATE contacts SET zone = ? WHERE id = ?",
					zoneKey(recipientZones(contact.phone, null)),
					contact.id,
				);
			}
		}
		if (!contactColumns.has("skip_reason")) ctx.storage.sql.exec("ALTER TABLE contacts ADD COLUMN skip_reason TEXT");
		// Which pending contacts of which zones are due: the decision's query with recipient hours.
		ctx.storage.sql.exec("CREATE INDEX IF NOT EXISTS contacts_zone_due ON contacts (state, zone, next_due_at)");
	}

	/** Loads the campaign from D1 on first use, then starts whatever may start now. */
	async wake(campaignId: string): Promise<CampaignSnapshot> {
		await this.load(campaignId);
		await this.drive();
		return this.snapshot();
	}

	/**
	 * A create's hand-over: takes the campaign in (from the seed when the create's own write made
	 * it, else from D1), reserves what may start now and answers the live counters at once.
	 * Recording and dialling run in the alarm set for now, not in the create's request; an alarm
	 * whose handler fails is retried, and the cron sweep wakes a campaign whose D1 record never
	 * got its first wake time.
	 */
	async start(campaignId: string, seed: CampaignSeed | null): Promise<CampaignSnapshot> {
		await this.load(campaignId, seed);
		// A driver already running (a sweep got here first) reserves them in its next round.
		if (this.driving) this.again = true;
		else this.pump();
		await this.ctx.storage.setAlarm(this.clock());
		return this.snapshot();
	}

	/** A PATCH changed pacing or the window; lowering caps never touches live calls. Answers the live counters. */
	async configure(campaignId: string, config: PacerConfig): Promise<CampaignSnapshot> {
		const state = await this.load(campaignId);
		if (config.version > state.config.version) {
			this.save({ ...state, config });
			if (config.callerId !== state.config.callerId) this.retryCallerIdNow();
		}
		await this.drive();
		return this.snapshot();
	}

	/**
	 * The account's contact policy changed (the PUT's hand-over, or the cron finding this pacer
	 * on an older version): a newer version decides from the next call on; calls already
	 * started are not touched, and contacts outside the new hours wait. Answers the live counters.
	 */
	async applyPolicy(campaignId: string, policy: ContactPolicy): Promise<CampaignSnapshot> {
		await this.load(campaignId);
		if (policy.version > this.policy().version) this.ctx.storage.kv.put(POLICY, policy);
		await this.drive();
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
		// Already closed here: D1 may still lack the acknowledgement (a lost batch answer), so write it again.
		if (!ended) this.markClosedAgain([callId]);
		await this.drive();
		return ended;
	}

	/**
	 * The cron's reconciliation: calls final in D1 that this pacer has not acknowledged are
	 * ended here (their outcome was lost on the way), and calls this pacer ended that D1 still
	 * shows open are written again. Answers how many calls it ended.
	 */
	async reconcile(campaignId: string, report: ReconcileReport): Promise<number> {
		await this.load(campaignId);
		const now = this.clock();
		const closed = report.ended.filter((call) => this.endCall(call.id, call.outcome, now)).length;
		this.markClosedAgain([...report.ended.map((call) => call.id), ...report.open]);
		await this.drive();
		return closed;
	}

	override async alarm(): Promise<void> {
		if (!this.state()) return;
		const now = this.clock();
		const expired = this.sql<{ id: string }>(
			"SELECT id FROM calls WHERE ended_at IS NULL AND stage = 'placed' AND deadline_at <= ?",
			now,
		);
		for (const call of expired) this.endCall(call.id, "timeout", now);
		await this.drive();
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
		const { window } = state.config;
		const rule = this.rule();
		// With recipient hours, "open" means some pending contact may be called now, and the next
		// opening is the earliest instant one may (looked for up to a year ahead); without them (or
		// none pending) the campaign's window.
		const pendingZones = rule.hours
			? this.sql<{ zone: string | null }>("SELECT DISTINCT zone FROM contacts WHERE state = 'pending'").map((row) => row.zone)
			: [];
		const turn = pendingZones.length ? this.earliestTurn(now, pendingZones) : nextOpening(now, window);
		const windowOpen = pendingZones.length ? turn === now && isWindowOpen(now, window) : isWindowOpen(now, window);
		const opening = state.status === "active" || state.status === "scheduled" ? turn : null;
		return {
			status: state.status,
			contacts: {
				total: Object.values(counts).reduce((sum, n) => sum + n, 0),
				pending: counts.pending ?? 0,
				in_flight: counts.in_flight ?? 0,
				done: counts.done ?? 0,
				skipped: counts.skipped ?? 0,
			},
			in_flight: this.inFlight(now),
			calls_today: this.startedToday(now),
			window_open: windowOpen,
			next_opening_at: iso(opening),
			provider: presentHealth(this.health()),
		};
	}

	/** Loads the campaign if needed and reports its live counters, starting nothing. */
	async view(campaignId: string): Promise<CampaignSnapshot> {
		await this.load(campaignId);
		return this.snapshot();
	}

	/** Calls still in flight (what a provider has yet to report on). */
	openCalls(): { id: string; started_at: number }[] {
		return this.sql("SELECT id, started_at FROM calls WHERE ended_at IS NULL AND stage != 'backoff' ORDER BY started_at, id");
	}

	/** Every call this campaign started (dial requested), for audits and invariant checks. */
	callLog(): PlacedCall[] {
		return this.sql<PlacedCall>(
			`SELECT id, contact_id, attempt, started_at, ended_at, outcome, local_date FROM calls
			  WHERE stage IN ('dialing', 'placed') ORDER BY started_at, id`,
		);
	}

	/** Rows and events D1 has yet to confirm (for tests and operations). */
	unrecorded(): { rows: number; events: number } {
		return {
			rows: this.count("SELECT count(*) AS n FROM sync"),
			events: this.count("SELECT count(*) AS n FROM outbox"),
		};
	}

	/** Confirms and give-backs the contact ledger has yet to take (for tests and operations). */
	unsettled(): { placed: number; released: number } {
		return {
			placed: this.count("SELECT count(*) AS n FROM ledger_confirms"),
			released: this.count("SELECT count(*) AS n FROM ledger_releases"),
		};
	}

	// --- the driver: decide, record in D1, dial, and again while anything changed ---

	/**
	 * Runs the effects of what was decided. One driver at a time: callers arriving while it runs
	 * ask for another round and wait for it, so no call is recorded or dialled twice at once.
	 */
	private drive(): Promise<void> {
		this.again = true;
		if (!this.driving) {
			this.driving = this.runDriver().finally(() => {
				this.driving = null;
			});
		}
		return this.driving;
	}

	private async runDriver(): Promise<void> {
		try {
			while (this.again) {
				this.again = false;
				this.pump();
				const recorded = await this.record();
				if (recorded) {
					// No await between promoting recorded calls and deciding their dials: no action slips in between.
					if (await this.dialRecorded()) this.again = true;
					await this.dispatchRecorded();
				}
				// The ledger's report needs nothing from D1: a D1 outage must not hold other campaigns back.
				await this.settleLedger();
				if (!recorded) break;
			}
		} finally {
			this.scheduleAlarm(this.clock());
		}
	}

	// --- decisions (synchronous: one event, no interleaving) ---

	/** Starts as many calls as the window, the slots, today's cap and the provider allow. */
	private pump(): void {
		const state = this.state();
		if (!state) return;
		const now = this.clock();
		this.decidedAt = now;
		const { config } = state;
		if (state.status === "scheduled" && (config.window.scheduledAt === null || now >= config.window.scheduledAt)) {
			this.save({ ...state, status: "active" });
			this.event("campaign.activated", now);
		}
		if (this.status() === "active") this.skipNoCallingHours(now);
		if (this.status() === "active" && isWindowOpen(now, config.window)) {
			const local = localTime(now, config.window.timezone);
			this.skipUnknownZones(now);
			const today = config.maxPerDay === null ? Number.POSITIVE_INFINITY : config.maxPerDay - this.startedToday(now);
			let allowed = Math.min(today, dialBudget(this.health(), now, Number.POSITIVE_INFINITY, this.unanswered()));
			const { all, keys, unknown, heldUnknown } = this.callableZones(now);
			// Calls that may have been placed already, last asked within MAX_CALL_SECONDS, hold their
			// slot: asking again under their id needs no new one.
			const holding = this.sql<{ id: string; attempts: number }>(
				`SELECT k.id, k.attempts FROM contacts k JOIN calls c ON c.contact_id = k.id AND c.attempt = k.attempts + 1
				  WHERE k.state = 'pending' AND k.next_due_at <= ?1 AND c.stage = 'backoff' AND c.ended_at IS NULL AND c.maybe_placed = 1
				    AND ${LAST_ASK} > ?6
				    AND (?3 OR k.zone IN (SELECT value FROM json_each(?4)) OR (k.zone IS NULL AND ?5))
				  ORDER BY k.next_due_at, k.position LIMIT ?2`,
				now,
				Number.isFinite(allowed) ? Math.max(0, allowed) : -1,
				all,
				keys,
				heldUnknown,
				now - this.maxCallMs(),
			);
			for (const contact of holding) this.startCall(contact, now, local.date);
			allowed -= holding.length;
			const slots = startBudget(config.maxConcurrent, this.inFlight(now), null, 0);
			// Only contacts whose recipient hours are open now: one whose zone is closed waits without
			// holding back the ones after it. A held call older than any call lasts holds no slot, so
			// its re-ask takes one like a new call (see inFlight).
			const due = this.sql<{ id: string; attempts: number }>(
				`SELECT k.id, k.attempts FROM contacts k
				   LEFT JOIN calls c ON c.contact_id = k.id AND c.attempt = k.attempts + 1 AND c.stage = 'backoff'
				    AND c.ended_at IS NULL AND c.maybe_placed = 1
				  WHERE k.state = 'pending' AND k.next_due_at <= ?1
				    AND (?3 OR k.zone IN (SELECT value FROM json_each(?4))
				         OR (k.zone IS NULL AND CASE WHEN c.id IS NULL THEN ?5 ELSE ?6 END))
				  ORDER BY k.next_due_at, k.position LIMIT ?2`,
				now,
				Math.max(0, Math.min(slots, allowed)),
				all,
				keys,
				unknown,
				heldUnknown,
			);
			for (const contact of due) this.startCall(contact, now, local.date);
		}
		if (
			this.status() === "active" &&
			this.count("SELECT count(*) AS n FROM contacts WHERE state NOT IN ('done', 'skipped')") === 0
		) {
			this.save({ ...this.requireState(), status: "completed" });
			this.event("campaign.completed", now);
		}
	}

	/**
	 * Which contacts' recipient hours are open at `now`, as the decision queries' bindings: every
	 * contact (no recipient hours), else the zone keys open now and whether unknown zones are.
	 * A held call (one the provider may have) of unknown zone under `skip` is asked again within
	 * the campaign's window alone (`heldUnknown`): it may be at the provider already, and only
	 * its re-ask settles it.
	 */
	private callableZones(now: number): { all: number; keys: string; unknown: number; heldUnknown: number } {
		const rule = this.rule();
		if (!rule.hours) return { all: 1, keys: "[]", unknown: 1, heldUnknown: 1 };
		const { window } = this.requireState().config;
		const keys = this.contactZoneKeys().filter(
			(key): key is string => key !== null && isCallable(now, window, zonesOfKey(key), rule),
		);
		const unknown = isCallable(now, window, [], rule);
		const heldUnknown = rule.unknownTimezone === "skip" ? isWindowOpen(now, window) : unknown;
		return { all: 0, keys: JSON.stringify(keys), unknown: unknown ? 1 : 0, heldUnknown: heldUnknown ? 1 : 0 };
	}

	/**
	 * With recipient hours, a pending contact whose hours have no minute in common with the
	 * campaign's window for a year ahead (commonOpening) cannot be called under this window and
	 * policy: it ends `skipped` (`no_calling_hours`), so the campaign can complete. Asked each
	 * round while the campaign is active, open or not; the search runs once per zone and
	 * version (cached). A held call (the provider may have it) of such a zone can never be asked
	 * again inside the hours: once older than any call lasts, it is closed as `timeout` (as a
	 * placed call with no final status is), which ends its contact as any timeout does.
	 */
	private skipNoCallingHours(now: number): void {
		const rule = this.rule();
		if (!rule.hours) return;
		const pending = this.sql<{ zone: string | null }>("SELECT DISTINCT zone FROM contacts WHERE state = 'pending'");
		const unreachable = pending
			.map((row) => row.zone)
			.filter((key) => !(key === null && rule.unknownTimezone === "skip") && this.commonOpening(now, key) === null);
		if (!unreachable.length) return;
		const zones = JSON.stringify(unreachable);
		const unknown = unreachable.includes(null) ? 1 : 0;
		const stale = this.sql<{ id: string }>(
			`SELECT c.id FROM calls c JOIN contacts k ON k.id = c.contact_id
			  WHERE k.state = 'pending' AND c.stage = 'backoff' AND c.ended_at IS NULL AND c.maybe_placed = 1
			    AND (k.zone IN (SELECT value FROM json_each(?1)) OR (k.zone IS NULL AND ?2))
			    AND ${LAST_ASK} <= ?3`,
			zones,
			unknown,
			now - this.maxCallMs(),
		);
		for (const call of stale) this.endCall(call.id, "timeout", now);
		const skipped = this.sql<{ id: string; phone: string }>(
			`SELECT k.id, k.phone FROM contacts k
			  WHERE k.state = 'pending' AND (k.zone IN (SELECT value FROM json_each(?1)) OR (k.zone IS NULL AND ?2))
			    AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.contact_id = k.id AND c.ended_at IS NULL AND c.maybe_placed = 1)
			  ORDER BY k.position LIMIT ?3`,
			zones,
			unknown,
			SKIPS_PER_ROUND,
		);
		for (const contact of skipped) this.skipContact(contact, NO_CALLING_HOURS, now);
		if (skipped.length === SKIPS_PER_ROUND) this.again = true;
	}

	/**
	 * With recipient hours and `unknown_timezone: skip`, a due contact whose zone is unknown is
	 * not called: it ends `skipped` (D1 and the live counters show it) with `contact.skipped`.
	 * One whose call the provider may have is left to that call; an attempt the provider refused
	 * for a while (never placed) is closed `skipped` with it.
	 */
	private skipUnknownZones(now: number): void {
		const rule = this.rule();
		if (!rule.hours || rule.unknownTimezone !== "skip") return;
		const skipped = this.sql<{ id: string; phone: string }>(
			`SELECT k.id, k.phone FROM contacts k
			  WHERE k.state = 'pending' AND k.zone IS NULL AND k.next_due_at <= ?
			    AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.contact_id = k.id AND c.ended_at IS NULL AND c.maybe_placed = 1)
			  ORDER BY k.position LIMIT ?`,
			now,
			SKIPS_PER_ROUND,
		);
		for (const contact of skipped) this.skipContact(contact, UNKNOWN_TIMEZONE, now);
		if (skipped.length === SKIPS_PER_ROUND) this.again = true;
	}

	/**
	 * The one way a contact ends `skipped`, for every reason the contact policy gives: its zone
	 * is unknown under `unknown_timezone: skip`, or the contact ledger refused its number
	 * (do-not-call list, max_attempts_per_number). Final, with the reason on the contact and in
	 * `contact.skipped` (written in the same step; D1 learns both with the next record batch).
	 * Its open attempt the provider never had (the dial the ledger refused, or one the provider
	 * refused for a while) is closed `skipped` with the reason as failure_reason and is no
	 * attempt; a count the ledger may hold for it goes back, except for `refusedCallId`, which
	 * the ledger counted nothing for. A call the provider may have is left to its re-ask:
	 * callers never skip a contact that has one.
	 */
	private skipContact(
		contact: { id: string; phone: string },
		reason: ContactSkipReason,
		now: number,
		refusedCallId: string | null = null,
	): void {
		const unplaced = "contact_id = ?1 AND ended_at IS NULL AND stage IN ('backoff', 'dialing') AND (maybe_placed = 0 OR id = ?2)";
		this.ctx.storage.sql.exec(
			`INSERT OR IGNORE INTO ledger_releases (call_id) SELECT id FROM calls WHERE ${unplaced} AND claimed = 1 AND id IS NOT ?2`,
			contact.id,
			refusedCallId,
		);
		const closed = this.sql<{ id: string; attempt: number }>(
			`UPDATE calls SET stage = 'backoff', ended_at = ?3, outcome = 'skipped', failure_reason = ?4, maybe_placed = 0, claimed = 0
			  WHERE ${unplaced} RETURNING id, attempt`,
			contact.id,
			refusedCallId,
			now,
			reason,
		);
		for (const call of closed) this.markUnrecorded("call", call.id);
		// A closed attempt was never made: the contact's count is what it was before it.
		const attempts = closed.length ? Math.min(...closed.map((call) => call.attempt - 1)) : null;
		this.ctx.storage.sql.exec(
			"UPDATE contacts SET state = 'skipped', skip_reason = ?, attempts = coalesce(?, attempts), next_due_at = 0 WHERE id = ?",
			reason,
			attempts,
			contact.id,
		);
		this.markUnrecorded("contact", contact.id);
		this.event("contact.skipped", now, { contact_id: contact.id, phone: contact.phone, reason });
	}

	/** Reserves the slot and the day's count; the call is dialled once D1 has its row. */
	private startCall(contact: { id: string; attempts: number }, now: number, localDate: string): void {
		const attempt = contact.attempts + 1;
		// An attempt the provider refused for a transient reason keeps its call id: it is the provider's dedupe key.
		const [waiting] = this.sql<{ id: string }>(
			"SELECT id FROM calls WHERE contact_id = ? AND attempt = ? AND stage = 'backoff' AND ended_at IS NULL",
			contact.id,
			attempt,
		);
		const callId = waiting?.id ?? crypto.randomUUID();
		this.ctx.storage.sql.exec("UPDATE contacts SET state = 'in_flight', attempts = ? WHERE id = ?", attempt, contact.id);
		this.ctx.storage.sql.exec(
			`INSERT INTO calls (id, contact_id, attempt, started_at, deadline_at, local_date, stage) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'recording')
			 ON CONFLICT (id) DO UPDATE SET stage = 'recording', started_at = ?4, deadline_at = ?5, local_date = ?6`,
			callId,
			contact.id,
			attempt,
			now,
			NOT_PLACED,
			localDate,
		);
		this.markUnrecorded("call", callId);
		this.markUnrecorded("contact", contact.id);
	}

	/** Ends a call the pacer holds open; repeats and unknown calls change nothing. */
	private endCall(callId: string, outcome: CallOutcome, now: number, reason: string | null = null): boolean {
		const state = this.requireState();
		const [call] = this.sql<{
			contact_id: string;
			attempt: number;
			ended_at: number | null;
			stage: string;
			held_until: number | null;
			asked_at: number;
			may_be_placed: number;
		}>(
			`SELECT contact_id, attempt, ended_at, stage,
			        CASE WHEN stage = 'backoff' AND maybe_placed = 1 THEN ${LAST_ASK} + ? END AS held_until,
			        ${LAST_ASK} AS asked_at, (first_asked_at IS NOT NULL OR maybe_placed = 1) AS may_be_placed
			   FROM calls WHERE id = ?`,
			this.maxCallMs(),
			callId,
		);
		if (!call || call.ended_at !== null) return false;
		// A held call that stopped holding its slot (see inFlight) had ended by then, if it ever
		// began: no call outlives MAX_CALL_SECONDS, and its slot went to other calls from that moment.
		const endedAt = call.held_until !== null && call.held_until < now ? call.held_until : now;
		// A call in backoff that ends after all was taken by the provider despite its answer (a timed-out request).
		this.ctx.storage.sql.exec(
			"UPDATE calls SET ended_at = ?, outcome = ?, failure_reason = ?, stage = CASE WHEN stage = 'backoff' THEN 'placed' ELSE stage END WHERE id = ?",
			endedAt,
			outcome,
			reason,
			callId,
		);
		const retry = shouldRetry(outcome, call.attempt, state.config.retry);
		this.ctx.storage.sql.exec(
			"UPDATE contacts SET state = ?, attempts = max(attempts, ?), next_due_at = ?, last_outcome = ? WHERE id = ?",
			retry ? "pending" : "done",
			call.attempt,
			retry ? now + state.config.retry.delayMs : 0,
			outcome,
			call.contact_id,
		);
		this.markUnrecorded("call", callId);
		this.markUnrecorded("contact", call.contact_id);
		// Outcomes the pacer decides itself are announced here; a provider's come with its callback,
		// and prove the call started, also when no answer to its dial ever did: its count is placed.
		// A provider's permanent refusal means it never was: the count goes back.
		if (outcome === "timeout" || reason !== null) this.callCompleted(callId, outcome, reason, now);
		else {
			this.announceStart(callId, now);
			this.confirmPlaced(callId, now);
		}
		if (reason !== null) this.giveBack(callId);
		else if (outcome === "timeout") this.settleTimedOut(callId, call);
		return true;
	}

	/**
	 * A call closed as `timeout` is final, so its ledger count must be too: left a reservation,
	 * it would make every other campaign's claim of the number wait (never be refused) until it
	 * aged out of the cap's window. Asked of the provider without an answer that settled it, it
	 * may have been placed: for a cap that is a placed call, stamped at its last ask (when it
	 * may have begun at the latest; see LAST_ASK). Never asked, the provider never had it: the
	 * count goes back. A call already confirmed placed is left as it is.
	 */
	private settleTimedOut(callId: string, call: { asked_at: number; may_be_placed: number }): void {
		if (call.may_be_placed === 1) this.confirmPlaced(callId, call.asked_at);
		else this.giveBack(callId);
	}

	/** Applies what the provider answered to the dial requests of one round. */
	private applyDialResults(results: { callId: string; result: DialResult }[], now: number): void {
		const accepted = results.some(({ result }) => result.kind === "accepted");
		// A round is one look at the provider: any acceptance means it is up; refusals alone are one more failure.
		const refusal = results.find(({ result }) => result.kind === "transient")?.result;
		let retryAt = now + 1000;
		if (!accepted && refusal?.kind === "transient") retryAt = this.providerRefused(refusal, now);
		const cancelled = this.status() === "cancelled";
		for (const { callId } of results) this.ctx.storage.sql.exec("UPDATE calls SET asked = 0 WHERE id = ?", callId);
		const ordered = [...results].sort((a, b) => Number(b.result.kind === "accepted") - Number(a.result.kind === "accepted"));
		for (const { callId, result } of ordered) {
			const [call] = this.sql<{ contact_id: string; attempt: number; ended_at: number | null }>(
				"SELECT contact_id, attempt, ended_at FROM calls WHERE id = ? AND stage = 'dialing'",
				callId,
			);
			if (!call) continue;
			// Taken, even if its final callback outran this answer: it started, and the provider is up.
			if (result.kind === "accepted") this.placed(callId, call, now, result.providerCallId);
			// Otherwise a call that ended while its dial was out (reconciled, say) stays as it ended.
			else if (call.ended_at !== null) continue;
			else if (result.kind === "permanent") this.endCall(callId, "failed", now, result.reason);
			else if (cancelled) this.closeForCancel(callId, call, now, result.uncertain === true);
			else this.backOff(callId, call, retryAt, result.uncertain === true);
		}
	}

	/** Opens or extends the outage; answers when the provider is to be tried again. */
	private providerRefused(refusal: Extract<DialResult, { kind: "transient" }>, now: number): number {
		const { health, began } = afterRefusal(this.health(), now, refusal.reason, this.random(), refusal.retryAfterMs);
		this.saveHealth(health);
		if (began) {
			this.event("campaign.provider_unavailable", now, {
				since: iso(health.since),
				next_try_at: iso(health.nextTryAt),
				last_error: health.lastError,
			});
		}
		return health.nextTryAt ?? now + 1000;
	}

	private placed(
		callId: string,
		call: { contact_id: string; attempt: number; ended_at: number | null },
		now: number,
		providerCallId?: string,
	): void {
		this.ctx.storage.sql.exec(
			"UPDATE calls SET stage = 'placed', maybe_placed = 1, deadline_at = ?, provider_call_id = coalesce(provider_call_id, ?) WHERE id = ?",
			call.ended_at === null ? now + this.maxCallMs() : NOT_PLACED,
			providerCallId ?? null,
			callId,
		);
		// The carrier's id goes to D1 too: a later re-ask of another call must not take this one for its own.
		if (providerCallId) this.markUnrecorded("call", callId);
		this.confirmPlaced(callId, now);
		const { health, recovered } = afterAcceptance(this.health());
		if (recovered) {
			const outage = this.health();
			this.event("campaign.provider_recovered", now, { unavailable_since: iso(outage.since), recovered_at: iso(now) });
		}
		this.saveHealth(health);
		this.announceStart(callId, now);
	}

	/** `call.started`, once per call whatever tells of it first (the dial's answer or the call's end); its id is fixed per call. */
	private announceStart(callId: string, now: number): void {
		const [call] = this.sql<{ contact_id: string; attempt: number; phone: string; announced: number }>(
			"SELECT c.contact_id, c.attempt, k.phone, c.announced FROM calls c JOIN contacts k ON k.id = c.contact_id WHERE c.id = ?",
			callId,
		);
		if (!call || call.announced === 1) return;
		this.ctx.storage.sql.exec("UPDATE calls SET announced = 1 WHERE id = ?", callId);
		this.outbox({
			...newEvent(
				"call.started",
				{
					campaign_id: this.requireState().config.campaignId,
					status: this.status(),
					call_id: callId,
					contact_id: call.contact_id,
					to: call.phone,
					attempt: call.attempt,
				},
				now,
			),
			id: `evt_call_started_${callId.replaceAll("-", "")}`,
		});
	}

	/**
	 * Not a call attempt: the day's count and the slot go back, and the contact waits with its
	 * attempt unused — unless the provider may have placed the call (a dial of it got no
	 * answer, now or before: a later refusal of the repeat says nothing of the first), then it
	 * keeps both until the provider settles it.
	 */
	private backOff(callId: string, call: { contact_id: string; attempt: number }, dueAt: number, maybePlaced: boolean): void {
		this.ctx.storage.sql.exec(
			"UPDATE calls SET stage = 'backoff', deadline_at = ?, maybe_placed = max(maybe_placed, ?) WHERE id = ?",
			NOT_PLACED,
			maybePlaced ? 1 : 0,
			callId,
		);
		this.requeueContact(call, dueAt);
		this.markUnrecorded("call", callId);
	}

	/**
	 * A cancelled campaign's call not placed: closed if it never reached the provider; kept
	 * open until its callback or its deadline if it may have (calls in flight finish).
	 */
	private closeForCancel(callId: string, call: { contact_id: string; attempt: number }, now: number, maybePlaced: boolean): void {
		const [row] = this.sql<{ maybe_placed: number }>("SELECT maybe_placed FROM calls WHERE id = ?", callId);
		if (!maybePlaced && row?.maybe_placed !== 1) {
			this.cancelUndialled(callId, call, now);
			return;
		}
		this.ctx.storage.sql.exec(
			"UPDATE calls SET stage = 'placed', maybe_placed = 1, deadline_at = ? WHERE id = ?",
			now + this.maxCallMs(),
			callId,
		);
		this.ctx.storage.sql.exec(
			"UPDATE contacts SET state = 'in_flight', attempts = ? WHERE id = ?",
			call.attempt,
			call.contact_id,
		);
		this.markUnrecorded("call", callId);
		this.markUnrecorded("contact", call.contact_id);
	}

	/** A cancelled campaign's call that never reached the provider: closed, its contact left as it was before. */
	private cancelUndialled(callId: string, call: { contact_id: string; attempt: number }, now: number): void {
		// The ledger may have counted it (a claim answered, or lost, before the provider refused it): give it back.
		this.giveBack(callId);
		this.ctx.storage.sql.exec(
			"UPDATE calls SET stage = 'backoff', ended_at = ?, outcome = 'cancelled', maybe_placed = 0 WHERE id = ?",
			now,
			callId,
		);
		this.requeueContact(call, now);
		this.markUnrecorded("call", callId);
	}

	private requeueContact(call: { contact_id: string; attempt: number }, dueAt: number): void {
		this.ctx.storage.sql.exec(
			"UPDATE contacts SET state = 'pending', attempts = ?, next_due_at = ? WHERE id = ?",
			call.attempt - 1,
			dueAt,
			call.contact_id,
		);
		this.markUnrecorded("contact", call.contact_id);
	}

	/**
	 * Calls reserved but not yet handed to the provider go back to the queue when the campaign
	 * stops: a paused campaign starts nothing new, and a cancelled one closes them. Dial
	 * requests already out are not recalled; those calls finish and are recorded.
	 */
	private releaseUndialled(to: CampaignStatus, now: number): void {
		const undialled = this.sql<{ id: string; contact_id: string; attempt: number; stage: string }>(
			"SELECT id, contact_id, attempt, stage FROM calls WHERE ended_at IS NULL AND stage IN ('recording', 'backoff')",
		);
		for (const call of undialled) {
			if (to === "cancelled") this.closeForCancel(call.id, call, now, false);
			else if (call.stage === "recording") this.backOff(call.id, call, now, false);
		}
	}

	private async transition(
		campaignId: string,
		decide: (status: CampaignStatus, config: PacerConfig) => { to: CampaignStatus; event?: string } | null,
	): Promise<ActionResult> {
		const state = await this.load(campaignId);
		const decision = decide(state.status, state.config);
		if (!decision) return { ok: false, status: state.status, live: this.snapshot() };
		if (decision.to !== state.status) {
			const now = this.clock();
			this.save({ ...state, status: decision.to });
			if (decision.to === "paused" || decision.to === "cancelled") this.releaseUndialled(decision.to, now);
			if (decision.event) this.event(decision.event, now);
		}
		await this.drive();
		return { ok: true, status: this.status(), live: this.snapshot() };
	}

	/** When the campaign next needs waking without outside help; calls ending and dial answers wake it too. */
	private nextWake(now: number): number | null {
		const state = this.requireState();
		const { window } = state.config;
		const candidates: number[] = [];
		const deadline = this.sql<{ at: number | null }>(
			"SELECT min(deadline_at) AS at FROM calls WHERE ended_at IS NULL AND stage = 'placed'",
		)[0]?.at;
		if (deadline !== null && deadline !== undefined) candidates.push(deadline);
		// D1 still lacks something, or a dial's answer was lost with a restart: try again soon.
		if (this.count("SELECT count(*) AS n FROM sync") + this.count("SELECT count(*) AS n FROM outbox") > 0) {
			candidates.push(this.retryWake(RECORD_RETRY_AT, now));
		}
		if (this.count("SELECT count(*) AS n FROM calls WHERE ended_at IS NULL AND stage IN ('recording', 'dialing')") > 0) {
			candidates.push(now + 1000);
		}
		if (this.count("SELECT (SELECT count(*) FROM ledger_releases) + (SELECT count(*) FROM ledger_confirms) AS n") > 0) {
			candidates.push(this.retryWake(LEDGER_RETRY_AT, now));
		}
		// A held call frees its slot when it can no longer be live (see inFlight): nothing else tells of that moment.
		const stale = this.sql<{ at: number | null }>(
			`SELECT min(${LAST_ASK}) + ?1 AS at FROM calls
			  WHERE ended_at IS NULL AND stage = 'backoff' AND maybe_placed = 1 AND ${LAST_ASK} + ?1 > ?2`,
			this.maxCallMs(),
			now,
		)[0]?.at;
		if (stale !== null && stale !== undefined) candidates.push(stale);
		if (state.status === "active" || state.status === "scheduled") {
			// With recipient hours, each zone's pending contacts have their own next turn; without
			// them every contact has the campaign's window, and one group is all there is.
			const byZone = this.rule().hours !== null;
			const groups = this.sql<{ zone: string | null; at: number | null }>(
				byZone
					? "SELECT zone, min(next_due_at) AS at FROM contacts WHERE state = 'pending' GROUP BY zone"
					: "SELECT NULL AS zone, min(next_due_at) AS at FROM contacts WHERE state = 'pending'",
			);
			if (groups.some((group) => group.at !== null)) {
				const capReached = state.config.maxPerDay !== null && this.startedToday(now) >= state.config.maxPerDay;
				const health = this.health();
				// When the day's cap and the provider let calls start again (0: they do).
				const gateAt = Math.max(
					capReached ? startOfNextLocalDay(now, window.timezone) : 0,
					health.state === "unavailable" ? (health.nextTryAt ?? 0) : 0,
				);
				const gate = Math.max(gateAt, now);
				const active = state.status === "active";
				for (const group of groups) {
					if (group.at === null) continue;
					const from = Math.max(group.at, gate);
					// Due now, callable now, under the cap, provider up: only full slots hold it back, and a
					// call ending wakes it — if the last decision (pump) saw it so. One that became so while
					// the round ran, after its decisions (a short wait ending, a window opening, a slow
					// round), is decided again at once. (Under `skip`, a due contact of unknown zone was
					// skipped just now.)
					if (from <= now && active && this.decidableNow(now, group.zone)) {
						if (!this.decidedWith(Math.max(group.at, gateAt), group.zone)) candidates.push(now);
						continue;
					}
					candidates.push(this.turnAfter(Math.max(from, now + 1), group.zone));
				}
				// Calls waiting after a dial the provider may have placed, still holding their slot, need
				// no free one: when they are due (and their recipient's hours open), they are asked again
				// whatever the other calls do. One that no longer holds a slot (see inFlight) waits for a
				// free one like any contact, and is woken as they are (a call ending, its turn); the
				// moment its hold ends is a wake of its own (above).
				const heldGroups = this.sql<{ zone: string | null; at: number | null }>(
					`SELECT ${byZone ? "k.zone" : "NULL"} AS zone, min(k.next_due_at) AS at
					   FROM contacts k JOIN calls c ON c.contact_id = k.id AND c.attempt = k.attempts + 1
					  WHERE k.state = 'pending' AND c.stage = 'backoff' AND c.ended_at IS NULL AND c.maybe_placed = 1
					    AND ${LAST_ASK} > ?
					  ${byZone ? "GROUP BY k.zone" : ""}`,
					now - this.maxCallMs(),
				);
				for (const group of heldGroups) {
					if (group.at === null || !active) continue;
					candidates.push(this.turnAfter(Math.max(gate, group.at, now + 1000), group.zone));
				}
			}
		}
		return candidates.length ? Math.min(...candidates) : null;
	}

	/**
	 * When to try an outstanding write (`key`: its retry time after a failure) again: at that
	 * time, or in a second when there is none or it has passed. A retry time already past means
	 * the round that should have retried did not (it stopped early): an alarm set in the past
	 * fires at once, and again and again while that stays so, so it is never set there.
	 */
	private retryWake(key: typeof RECORD_RETRY_AT | typeof LEDGER_RETRY_AT, now: number): number {
		const retryAt = this.ctx.storage.kv.get<number>(key);
		return retryAt !== undefined && retryAt > now ? retryAt : now + 1000;
	}

	/** Whether this instance's last decision (pump) came after `dueAt` with contacts of zone `key` decidable then. */
	private decidedWith(dueAt: number, key: string | null): boolean {
		return Number.isFinite(this.decidedAt) && dueAt <= this.decidedAt && this.decidableNow(this.decidedAt, key);
	}

	/** Whether the decision at `now` settles a due contact of zone `key`: it is called, or (under `skip`) skipped. */
	private decidableNow(now: number, key: string | null): boolean {
		const rule = this.rule();
		if (key === null && rule.hours && rule.unknownTimezone === "skip")
			return isWindowOpen(now, this.requireState().config.window);
		return this.callableNow(now, key, false);
	}

	/**
	 * When to look at contacts of zone `key` next, from `from`: their turn, or when none comes
	 * within a year (they are skipped while the campaign is active), the window's next opening.
	 */
	private turnAfter(from: number, key: string | null): number {
		const { window } = this.requireState().config;
		return this.turnOf(from, key) ?? nextOpening(from, window) ?? from + OPENING_HORIZON_MS;
	}

	/**
	 * The next instant ≥ `from` a contact of zone `key` gets its turn: it may be called then (a
	 * held call of unknown zone under `skip` is asked again then, inside the campaign's window
	 * alone), or under `skip` one of unknown zone is decided (skipped) at the window's opening.
	 * Null: no turn within a year.
	 */
	private turnOf(from: number, key: string | null): number | null {
		const rule = this.rule();
		if (!rule.hours || (key === null && rule.unknownTimezone === "skip"))
			return nextOpening(from, this.requireState().config.window);
		return this.commonOpening(from, key);
	}

	/** The earliest turn among these zone keys (those of the pending contacts); null: none within a year. */
	private earliestTurn(from: number, keys: readonly (string | null)[]): number | null {
		let earliest: number | null = null;
		for (const key of keys) {
			const turn = this.turnOf(from, key);
			if (turn !== null && (earliest === null || turn < earliest)) earliest = turn;
			if (earliest === from) break;
		}
		return earliest;
	}

	/**
	 * The first instant ≥ `from` the campaign's window and the recipient hours in zone `key`
	 * are open together, looked for up to a year ahead (DST-correct in each zone); null: none
	 * in that year. The search is cheap when an opening is near and costs up to a year's worth
	 * of daily openings when it is not, so each key's last answer is kept for the policy and
	 * config versions it was found under: it stands for every later `from` up to the opening
	 * found (nothing opens in between), and a "none" for a day.
	 */
	private commonOpening(from: number, key: string | null): number | null {
		const { config } = this.requireState();
		const cacheKey = `${this.policy().version}/${config.version}/${key ?? "?"}`;
		const cached = this.openings.get(cacheKey);
		if (cached && from >= cached.from && from <= (cached.at ?? cached.from + DAY_MS)) return cached.at;
		const at = nextTurn(from, config.window, zonesOfKey(key), this.rule(), from + FAR_HORIZON_MS);
		// Versions only grow, and so would the keys of those left behind.
		if (this.openings.size >= 1_000) this.openings.clear();
		this.openings.set(cacheKey, { from, at });
		return at;
	}

	private scheduleAlarm(now: number): void {
		if (!this.state()) return;
		const wake = this.nextWake(now);
		// Only fails when the object is already broken; its next instance sets the alarm again.
		const ignore = () => undefined;
		if (wake === null) this.ctx.storage.deleteAlarm().catch(ignore);
		else this.ctx.storage.setAlarm(wake).catch(ignore);
	}

	// --- effects ---

	/**
	 * Writes what D1 lacks — changed calls and contacts, the campaign's status and next wake,
	 * and pending events — in one batch (a transaction), then promotes the recorded calls to
	 * `dialing`. A failed batch (or one whose answer was lost) is written again later: every
	 * statement writes current state, so a repeat is harmless. False when D1 failed.
	 */
	private async record(): Promise<boolean> {
		const state = this.requireState();
		const { config } = state;
		const now = this.clock();
		const rows = this.sql<{ kind: string; id: string; seq: number }>(
			"SELECT kind, id, seq FROM sync ORDER BY seq LIMIT ?",
			RECORD_BATCH,
		);
		const outbox = this.sql<{ seq: number; event: string }>("SELECT seq, event FROM outbox ORDER BY seq LIMIT ?", RECORD_BATCH);
		const events = outbox.map((row) => JSON.parse(row.event) as AccountEvent);
		const mirror: CampaignMirror = {
			status: state.status,
			wakeAt: this.nextWake(now),
			configVersion: config.version,
			policyVersion: this.policy().version,
		};
		const mirrored = this.ctx.storage.kv.get<CampaignMirror>(MIRRORED);
		const campaignChanged = JSON.stringify(mirror) !== JSON.stringify(mirrored);
		if (!rows.length && !events.length && !campaignChanged) return true;

		const ids = { accountId: config.accountId, campaignId: config.campaignId, callerId: config.callerId };
		const statements = rows.flatMap((row) => this.recordStatements(row, ids, now));
		try {
			await this.env.DB.batch([
				...statements,
				...eventStatements(this.env.DB, config.accountId, events),
				campaignStatement(this.env.DB, config.campaignId, mirror, now),
			]);
		} catch (error) {
			const failures = (this.ctx.storage.kv.get<number>(RECORD_FAILURES) ?? 0) + 1;
			this.ctx.storage.kv.put(RECORD_FAILURES, failures);
			this.ctx.storage.kv.put(RECORD_RETRY_AT, now + Math.min(MAX_RECORD_RETRY_MS, 1000 * 2 ** (failures - 1)));
			console.warn("campaign record write failed; retrying", error instanceof Error ? error.message : String(error));
			return false;
		}
		this.ctx.storage.kv.delete(RECORD_FAILURES);
		this.ctx.storage.kv.delete(RECORD_RETRY_AT);
		this.ctx.storage.kv.put(MIRRORED, mirror);
		// Rows changed again while the batch ran keep their newer mark, and go in the next batch.
		for (const row of rows) {
			this.ctx.storage.sql.exec("DELETE FROM sync WHERE kind = ? AND id = ? AND seq = ?", row.kind, row.id, row.seq);
			if (row.kind === "call")
				this.ctx.storage.sql.exec("UPDATE calls SET stage = 'dialing' WHERE id = ? AND stage = 'recording'", row.id);
		}
		const flushed = outbox.at(-1)?.seq;
		if (flushed !== undefined) this.ctx.storage.sql.exec("DELETE FROM outbox WHERE seq <= ?", flushed);
		if (rows.length === RECORD_BATCH || outbox.length === RECORD_BATCH) this.again = true;
		this.undispatched.push(...events);
		return true;
	}

	/** Pushes recorded events to live streams and the webhook queue; a lost queue message is re-sent by the cron relay. */
	private async dispatchRecorded(): Promise<void> {
		const events = this.undispatched.splice(0);
		if (!events.length) return;
		await dispatchEvents(this.env, this.requireState().config.accountId, events).catch((error: unknown) =>
			console.warn("event dispatch failed", error instanceof Error ? error.message : String(error)),
		);
	}

	private recordStatements(
		row: { kind: string; id: string },
		ids: { accountId: string; campaignId: string; callerId: string | null },
		now: number,
	): D1PreparedStatement[] {
		if (row.kind === "contact") {
			const [contact] = this.sql<{
				id: string;
				state: string;
				attempts: number;
				last_outcome: string | null;
				skip_reason: string | null;
			}>("SELECT id, state, attempts, last_outcome, skip_reason FROM contacts WHERE id = ?", row.id);
			return contact ? [contactStatement(this.env.DB, contact)] : [];
		}
		const [call] = this.sql<PacerCall>(
			`SELECT c.id, c.contact_id, c.attempt, k.phone, c.stage, c.started_at, c.ended_at, c.outcome, c.failure_reason, c.provider_call_id
			   FROM calls c JOIN contacts k ON k.id = c.contact_id WHERE c.id = ?`,
			row.id,
		);
		return call ? [callStatement(this.env.DB, ids, call, now)] : [];
	}

	/**
	 * Dials the calls D1 has recorded and nobody has asked the provider for yet, checking again
	 * at this moment what was true when they were reserved: a call whose campaign stopped,
	 * whose window or recipient hours closed (or whose policy changed) or whose local day ended
	 * while D1 was being written goes back to the queue, its attempt unused. The contact ledger
	 * clears each call just before it goes out (and the same checks run again after its answer,
	 * which is awaited). True when anything changed.
	 */
	private async dialRecorded(): Promise<boolean> {
		const { config } = this.requireState();
		const now = this.clock();
		const waiting = this.sql<DueCall>(
			`SELECT c.id, c.contact_id, c.attempt, c.started_at, c.maybe_placed, c.asked, c.first_asked_at, c.first_caller_id, k.phone, k.zone
			   FROM calls c JOIN contacts k ON k.id = c.contact_id
			  WHERE c.stage = 'dialing' AND c.ended_at IS NULL ORDER BY c.started_at, c.id`,
		).filter((call) => !this.dialsOut.has(call.id));
		if (!waiting.length) return false;
		// Asked before, by an instance that died before hearing the answer: the provider may have it.
		for (const call of waiting.filter((waited) => waited.asked === 1)) {
			this.ctx.storage.sql.exec("UPDATE calls SET maybe_placed = 1, asked = 0 WHERE id = ?", call.id);
			call.maybe_placed = 1;
		}
		const ready = waiting.filter((call) => this.mayDialNow(call, now));
		if (!ready.length) return true;
		for (const call of ready) this.dialsOut.add(call.id);
		try {
			const refusal = await this.callerIdRefusal(config);
			// A call the carrier may already have is asked again as it was first asked (its number is
			// how the carrier's look-up finds it), also if the account has removed that number since.
			const refused = refusal ? ready.filter((call) => call.maybe_placed !== 1) : [];
			const asking = ready.filter((call) => !refused.includes(call));
			const answers = await this.claim(config.accountId, asking, this.attemptCap());
			const cleared = this.settleClaims(asking, answers, this.clock());
			const askedAt = this.clock();
			for (const call of cleared) {
				// Stored, so that an instance that dies before the answer leaves a trace: see above.
				this.ctx.storage.sql.exec(
					"UPDATE calls SET asked = 1, first_asked_at = coalesce(first_asked_at, ?1), last_asked_at = ?1, first_caller_id = coalesce(first_caller_id, ?2) WHERE id = ?3",
					askedAt,
					config.callerId,
					call.id,
				);
			}
			const results = await Promise.all([
				...refused.map(async (call) => ({ callId: call.id, result: refusal as DialResult })),
				...cleared.map(async (call) => ({
					callId: call.id,
					result: await this.dialer
						.place({
							callId: call.id,
							accountId: config.accountId,
							campaignId: config.campaignId,
							to: call.phone,
							callerId: call.maybe_placed === 1 ? (call.first_caller_id ?? config.callerId) : config.callerId,
							agentId: config.agentId,
							agentLeg: null,
							machineDetection: config.machineDetection,
							// A call whose earlier ask got no answer may be at the carrier since that first ask.
							firstAskedAt: call.maybe_placed === 1 ? (call.first_asked_at ?? call.started_at) : null,
						})
						.catch(transient),
				})),
			]);
			this.applyDialResults(results, this.clock());
		} finally {
			for (const call of ready) this.dialsOut.delete(call.id);
		}
		return true;
	}

	/**
	 * Whether a recorded call may still go out now (the campaign's status, its window and local
	 * day, the recipient's hours under the policy the pacer holds now); one that may not is
	 * closed (a cancelled campaign) or goes back to the queue with its attempt unused.
	 */
	private mayDialNow(call: DueCall, now: number): boolean {
		const { config, status } = this.requireState();
		if (status === "cancelled") this.closeForCancel(call.id, call, now, call.maybe_placed === 1);
		else if (
			status !== "active" ||
			!isWindowOpen(now, config.window) ||
			call.started_at < startOfLocalDay(now, config.window.timezone) ||
			!this.callableNow(now, call.zone, call.maybe_placed === 1)
		)
			this.backOff(call.id, call, now, false);
		else return true;
		return false;
	}

	/**
	 * The account's `max_attempts_per_number` for this round: from the contact policy this pacer
	 * runs (the create's read, then every newer version the PUT's hand-over or the minute cron
	 * gives it, see applyPolicy), the same copy the recipient hours come from, so a round never
	 * mixes two versions and the dial path adds no D1 read. A changed cap applies from the
	 * round after the pacer has it: at once for the running campaigns the PUT reaches, within a
	 * minute for the rest. The ledger counts every attempt whatever the cap, so a new cap
	 * counts the attempts made before it.
	 */
	attemptCap(): AttemptCap | null {
		return this.policy().max_attempts_per_number;
	}

	/** The ledger's answer for each call, or null when it failed or missed its deadline (it may have counted them). */
	private async claim(accountId: string, calls: DueCall[], cap: AttemptCap | null): Promise<Map<string, ClaimAnswer> | null> {
		if (!calls.length) return new Map();
		// Before the ask: an answer that is lost may still have counted them, and a cancel must give that back.
		for (const call of calls) this.ctx.storage.sql.exec("UPDATE calls SET claimed = 1 WHERE id = ?", call.id);
		try {
			const ledger = contactLedgerOf(this.env, accountId);
			const requests = calls.map((call) => ({ callId: call.id, phone: call.phone, maybePlaced: call.maybe_placed === 1 }));
			const answers = await withDeadline(ledger.claim(requests, cap), this.ledgerTimeoutMs, "contact ledger claim");
			this.ctx.storage.kv.delete(LEDGER_FAILURES);
			return new Map(answers.map((answer) => [answer.callId, answer]));
		} catch (error) {
			console.warn("contact ledger claim failed; dials wait", error instanceof Error ? error.message : String(error));
			return null;
		}
	}

	/**
	 * Applies the ledger's answers: skipped contacts end, calls held back by other campaigns'
	 * reservations wait, and the calls cleared to dial are answered — those still due now (an
	 * action or the window may have changed while the ledger answered). Without an answer
	 * nothing is dialled: the calls wait and are asked again.
	 */
	private settleClaims(calls: DueCall[], answers: Map<string, ClaimAnswer> | null, now: number): DueCall[] {
		const cleared: DueCall[] = [];
		const unanswered: DueCall[] = [];
		for (const call of calls) {
			if (!this.stillDialing(call.id)) continue;
			const answer = answers?.get(call.id);
			if (answer?.verdict === "skip") this.skipContact({ id: call.contact_id, phone: call.phone }, answer.reason, now, call.id);
			else if (answer?.verdict === "dial") {
				if (this.mayDialNow(call, now)) cleared.push(call);
			} else if (answer?.verdict === "wait") {
				// Other campaigns' dials of the number, not yet placed, fill its cap: this contact
				// alone waits, its attempt unused, and is asked again once they are settled.
				if (this.status() === "cancelled") this.closeForCancel(call.id, call, now, false);
				else this.backOff(call.id, call, now + Math.round(answer.retryInMs * (1 + this.random())), false);
			} else unanswered.push(call);
		}
		if (unanswered.length) this.waitForLedger(unanswered, now);
		return cleared;
	}

	private stillDialing(callId: string): boolean {
		return this.count("SELECT count(*) AS n FROM calls WHERE id = ? AND stage = 'dialing' AND ended_at IS NULL", callId) > 0;
	}

	/** Calls the ledger did not clear go back to the queue, their attempts unused, until it is asked again (backoff 1 s to 60 s). */
	private waitForLedger(calls: DueCall[], now: number): void {
		const failures = (this.ctx.storage.kv.get<number>(LEDGER_FAILURES) ?? 0) + 1;
		this.ctx.storage.kv.put(LEDGER_FAILURES, failures);
		const retryAt = now + Math.min(MAX_LEDGER_RETRY_MS, 1000 * 2 ** (failures - 1));
		for (const call of calls) {
			if (this.status() === "cancelled") this.closeForCancel(call.id, call, now, false);
			else this.backOff(call.id, call, retryAt, false);
		}
	}

	/**
	 * The round's report to the ledger, one RPC: the calls the provider took (their counts
	 * become placed, stamped when it took them) and the calls closed without a dial (their
	 * counts go back). Both are kept here, in the same step as what they report, until the
	 * ledger has them: one that fails, times out or whose answer is lost is sent again by the
	 * next round or the alarm (backoff 1 s doubling to 60 s); a repeat changes nothing there.
	 * Until that retry time no round asks (the alarm set for it does): during an outage each try
	 * waits up to the ledger's deadline, and rounds run for provider callbacks, which wait on
	 * them. Meanwhile an unconfirmed count stays a reservation, which holds other campaigns back.
	 */
	private async settleLedger(): Promise<void> {
		const retryAt = this.ctx.storage.kv.get<number>(LEDGER_RETRY_AT);
		if (retryAt !== undefined && retryAt > this.clock()) return;
		const placed = this.sql<{ call_id: string; phone: string; at: number }>(
			"SELECT call_id, phone, at FROM ledger_confirms ORDER BY call_id LIMIT ?",
			SETTLE_BATCH,
		).map((row): PlacedAttempt => ({ callId: row.call_id, phone: row.phone, at: row.at }));
		const released = this.sql<{ call_id: string }>(
			"SELECT call_id FROM ledger_releases ORDER BY call_id LIMIT ?",
			SETTLE_BATCH,
		).map((row) => row.call_id);
		if (!placed.length && !released.length) return;
		try {
			const ledger = contactLedgerOf(this.env, this.requireState().config.accountId);
			await withDeadline(ledger.settle(placed, released), this.ledgerTimeoutMs, "contact ledger settle");
		} catch (error) {
			const failures = (this.ctx.storage.kv.get<number>(SETTLE_FAILURES) ?? 0) + 1;
			this.ctx.storage.kv.put(SETTLE_FAILURES, failures);
			this.ctx.storage.kv.put(LEDGER_RETRY_AT, this.clock() + Math.min(MAX_LEDGER_RETRY_MS, 1000 * 2 ** (failures - 1)));
			console.warn("contact ledger settle failed; retrying", error instanceof Error ? error.message : String(error));
			return;
		}
		this.ctx.storage.kv.delete(SETTLE_FAILURES);
		this.ctx.storage.kv.delete(LEDGER_RETRY_AT);
		this.ctx.storage.sql.exec(
			"DELETE FROM ledger_confirms WHERE call_id IN (SELECT json_extract(value, '$.callId') FROM json_each(?))",
			JSON.stringify(placed),
		);
		this.ctx.storage.sql.exec(
			"DELETE FROM ledger_releases WHERE call_id IN (SELECT value FROM json_each(?))",
			JSON.stringify(released),
		);
		if (placed.length === SETTLE_BATCH || released.length === SETTLE_BATCH) this.again = true;
	}

	/**
	 * The provider took this call (its dial was accepted, or a callback of it came): its ledger
	 * count is to become placed, stamped `at`. Once per call, whatever tells of it first; only
	 * calls the ledger was asked about.
	 */
	private confirmPlaced(callId: string, at: number): void {
		this.ctx.storage.sql.exec(
			`INSERT OR IGNORE INTO ledger_confirms (call_id, phone, at)
			 SELECT c.id, k.phone, ?1 FROM calls c JOIN contacts k ON k.id = c.contact_id
			  WHERE c.id = ?2 AND c.placed_at IS NULL AND c.claimed = 1`,
			at,
			callId,
		);
		this.ctx.storage.sql.exec("UPDATE calls SET placed_at = ? WHERE id = ? AND placed_at IS NULL", at, callId);
	}

	/** A call the provider never placed gives back the count the ledger may hold for it (unless it was seen placed). */
	private giveBack(callId: string): void {
		this.ctx.storage.sql.exec(
			"INSERT OR IGNORE INTO ledger_releases (call_id) SELECT id FROM calls WHERE id = ? AND claimed = 1 AND placed_at IS NULL",
			callId,
		);
	}

	/**
	 * A new caller id ends a wait that the old one caused (see callerIdRefusal) at once, rather
	 * than at the end of its backoff: the next dial is the probe.
	 */
	private retryCallerIdNow(): void {
		const health = this.health();
		if (health.state !== "unavailable" || !health.lastError?.startsWith(CALLER_ID_REFUSED) || health.nextTryAt === null) return;
		const now = this.clock();
		this.ctx.storage.sql.exec(
			"UPDATE contacts SET next_due_at = ? WHERE state = 'pending' AND next_due_at = ?",
			now,
			health.nextTryAt,
		);
		this.saveHealth({ ...health, nextTryAt: now });
	}

	/**
	 * The campaign's caller id must still be one of the account's when its calls go out (the
	 * account may have deleted it, and another account registered it, since): otherwise nothing
	 * is dialled and the contacts wait, as in an outage, with the reason on `live.provider`
	 * until a PATCH names another number. A check that cannot be made waits too.
	 */
	private async callerIdRefusal(config: PacerConfig): Promise<DialResult | null> {
		if (!config.callerId) return null;
		try {
			const held = await this.env.DB.prepare("SELECT 1 FROM caller_ids WHERE account_id = ? AND number = ?")
				.bind(config.accountId, config.callerId)
				.first();
			if (held) return null;
			return {
				kind: "transient",
				reason: `${CALLER_ID_REFUSED} ${config.callerId} is no longer one of the account's caller ids: PATCH the campaign's caller_id.`,
			};
		} catch {
			return { kind: "transient", reason: "The campaign's caller id could not be checked." };
		}
	}

	// --- storage ---

	private async load(campaignId: string, seed: CampaignSeed | null = null): Promise<PacerState> {
		const existing = this.state();
		if (existing) return existing;
		const { row, contacts, policy } =
			seed?.row.id === campaignId
				? {
						row: seed.row,
						contacts: seed.contacts.map((contact): LoadedContact => ({ ...contact, state: "pending", attempts: 0 })),
						policy: seed.policy,
					}
				: await this.readCampaign(campaignId);
		// Another call may have loaded it while we read D1.
		const raced = this.state();
		if (raced) return raced;
		for (const contact of contacts) {
			this.ctx.storage.sql.exec(
				"INSERT OR IGNORE INTO contacts (id, phone, position, state, attempts, zone) VALUES (?, ?, ?, ?, ?, ?)",
				contact.id,
				contact.phone,
				contact.position,
				contact.state,
				contact.attempts,
				zoneKey(recipientZones(contact.phone, contact.timezone)),
			);
		}
		this.zoneKeys = null;
		if (policy.version > this.policy().version) this.ctx.storage.kv.put(POLICY, policy);
		const state: PacerState = { config: configFromRow(row), status: row.status === "draft" ? "scheduled" : row.status };
		this.save(state);
		// A campaign created to start at once is active from its first moment: say so once.
		if (state.status === "active") this.event("campaign.activated", this.clock());
		return state;
	}

	/** The campaign, its contacts and its account's contact policy, in one D1 batch. */
	private async readCampaign(
		campaignId: string,
	): Promise<{ row: CampaignRow; contacts: LoadedContact[]; policy: ContactPolicy }> {
		const db = this.env.DB;
		const [campaign, contacts, policy] = await db.batch<Record<string, unknown>>([
			db.prepare("SELECT * FROM autocall_campaigns WHERE id = ?").bind(campaignId),
			db
				.prepare(
					"SELECT id, phone, position, status, attempts, timezone FROM campaign_contacts WHERE campaign_id = ? ORDER BY position",
				)
				.bind(campaignId),
			db
				.prepare(
					`SELECT ${POLICY_COLUMNS} FROM contact_policies WHERE account_id = (SELECT account_id FROM autocall_campaigns WHERE id = ?)`,
				)
				.bind(campaignId),
		]);
		const row = campaign?.results[0] as CampaignRow | undefined;
		if (!row) throw new Error(`campaign ${campaignId} does not exist`);
		const rows = (contacts?.results ?? []) as {
			id: string;
			phone: string;
			position: number;
			status: string;
			attempts: number;
			timezone: string | null;
		}[];
		return {
			row,
			contacts: rows.map(({ status, ...contact }) => ({
				...contact,
				state: status === "done" || status === "skipped" ? status : ("pending" as const),
			})),
			policy: policyFromRow(policy?.results[0] as ContactPolicyRow | undefined),
		};
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

	private health(): ProviderHealth {
		return this.ctx.storage.kv.get<ProviderHealth>(HEALTH) ?? AVAILABLE;
	}

	private saveHealth(health: ProviderHealth): void {
		this.ctx.storage.kv.put(HEALTH, health);
	}

	/** D1 must learn this row's current state; a newer mark replaces an older one. */
	private markUnrecorded(kind: "call" | "contact", id: string): void {
		this.ctx.storage.sql.exec(
			`INSERT INTO sync (kind, id, seq) VALUES (?1, ?2, (SELECT coalesce(max(seq), 0) + 1 FROM sync))
			 ON CONFLICT (kind, id) DO UPDATE SET seq = excluded.seq`,
			kind,
			id,
		);
	}

	/** Calls this pacer has closed: write them to D1 again (their acknowledgement may have been lost). */
	private markClosedAgain(callIds: string[]): void {
		for (const id of callIds) {
			if (this.count("SELECT count(*) AS n FROM calls WHERE id = ? AND ended_at IS NOT NULL", id) > 0) {
				this.markUnrecorded("call", id);
			}
		}
	}

	/** The contact policy this campaign runs: the defaults until the account's is read. */
	private policy(): ContactPolicy {
		return this.ctx.storage.kv.get<ContactPolicy>(POLICY) ?? DEFAULT_CONTACT_POLICY;
	}

	private rule(): RecipientRule {
		return recipientRule(this.policy());
	}

	/** Whether a recipient's hours (with the campaign's window) allow a call to start at `now`; see callableZones for held calls. */
	private callableNow(now: number, zone: string | null, held: boolean): boolean {
		const { window } = this.requireState().config;
		const rule = this.rule();
		if (zone === null && held && rule.unknownTimezone === "skip") return isWindowOpen(now, window);
		return isCallable(now, window, zonesOfKey(zone), rule);
	}

	/** The distinct zone keys among the contacts: they are fixed once the contacts are loaded. */
	private contactZoneKeys(): (string | null)[] {
		this.zoneKeys ??= this.sql<{ zone: string | null }>("SELECT DISTINCT zone FROM contacts").map((row) => row.zone);
		return this.zoneKeys;
	}

	/** Written to the outbox in the same step as the change it reports, so no event is lost. */
	private event(type: string, at: number, data: Record<string, unknown> = {}): void {
		const event = newEvent(
			type,
			{ campaign_id: this.requireState().config.campaignId, status: this.state()?.status, ...data },
			at,
		);
		this.outbox(event);
	}

	private outbox(event: AccountEvent): void {
		this.ctx.storage.sql.exec("INSERT INTO outbox (event) VALUES (?)", JSON.stringify(event));
	}

	/** The one completion event of a call the pacer ended itself; its id is fixed per call, like a callback's. */
	private callCompleted(callId: string, outcome: CallOutcome, reason: string | null, now: number): void {
		const [call] = this.sql<{ contact_id: string; attempt: number; phone: string }>(
			"SELECT c.contact_id, c.attempt, k.phone FROM calls c JOIN contacts k ON k.id = c.contact_id WHERE c.id = ?",
			callId,
		);
		if (!call) return;
		this.outbox(
			callCompletedEvent({
				callId,
				campaignId: this.requireState().config.campaignId,
				to: call.phone,
				outcome,
				attempt: call.attempt,
				durationSeconds: null,
				failureReason: reason,
				at: new Date(now).toISOString(),
			}),
		);
	}

	/**
	 * Calls holding a slot: reserved, being dialled, placed, or waiting after a dial the provider
	 * may have placed. A held call last asked longer ago than any call lasts (MAX_CALL_SECONDS;
	 * the carriers' time limits are set below it) cannot still be live even if the provider
	 * placed it: it holds no slot, though it is still asked again (inside its recipient's hours)
	 * to settle it, taking a slot then. Its last ask, not its first: an ask that got no answer
	 * may itself have placed the call (a carrier's look-up that finds nothing dials anew).
	 */
	private inFlight(now: number): number {
		return this.count(
			`SELECT count(*) AS n FROM calls WHERE ended_at IS NULL
			    AND (stage != 'backoff' OR (maybe_placed = 1 AND ${LAST_ASK} > ?))`,
			now - this.maxCallMs(),
		);
	}

	/** The longest a placed call may last before the pacer closes it as `timeout`. */
	private maxCallMs(): number {
		return Number(this.env.MAX_CALL_SECONDS || 900) * 1000;
	}

	/** Dial requests not yet answered: while the provider is down, at most one such probe. */
	private unanswered(): number {
		return this.count("SELECT count(*) AS n FROM calls WHERE ended_at IS NULL AND stage IN ('recording', 'dialing')");
	}

	/**
	 * Calls started on the local calendar day of `now` in the campaign's current zone, so that
	 * a change of zone still counts the calls already made today. A call waiting after a dial
	 * the provider may have placed counts too, against the day it was started on.
	 */
	private startedToday(now: number): number {
		const { timezone } = this.requireState().config.window;
		return this.count(
			`SELECT count(*) AS n FROM calls
			  WHERE started_at >= ? AND started_at < ? AND (stage != 'backoff' OR maybe_placed = 1)`,
			startOfLocalDay(now, timezone),
			startOfNextLocalDay(now, timezone),
		);
	}

	private count(query: string, ...bindings: unknown[]): number {
		return this.ctx.storage.sql.exec<{ n: number }>(query, ...bindings).one().n;
	}

	private sql<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): T[] {
		return this.ctx.storage.sql.exec<T>(query, ...bindings).toArray();
	}
}
