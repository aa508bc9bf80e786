import type { CampaignStatus } from "./config";

/**
 * The D1 record of a campaign, written from the pacer's own state. Every statement is an
 * idempotent write of "what the pacer knows now", so a batch that failed, or committed with
 * its answer lost, is simply written again.
 */

const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());

export type PacerCall = {
	id: string;
	contact_id: string;
	attempt: number;
	phone: string;
	stage: "recording" | "dialing" | "placed" | "backoff";
	started_at: number;
	ended_at: number | null;
	outcome: string | null;
	failure_reason: string | null;
	/** The carrier's id for the call, once a dial was accepted with one. */
	provider_call_id: string | null;
};

/**
 * A call as the pacer sees it: being dialled (`dialing`), waiting for the provider to come
 * back (`queued`), or ended by the pacer. A call already final in D1 keeps the outcome its
 * callback gave it; callbacks that moved it past `dialing` are never undone.
 */
export function callStatement(
	db: D1Database,
	ids: { accountId: string; campaignId: string; callerId: string | null },
	call: PacerCall,
	now: number,
): D1PreparedStatement {
	const ended = call.ended_at !== null;
	const status = ended ? (call.outcome ?? "failed") : call.stage === "backoff" ? "queued" : "dialing";
	return db
		.prepare(
			`INSERT INTO calls (id, account_id, kind, campaign_id, contact_id, attempt, to_phone, status, outcome, failure_reason,
			                    created_at, updated_at, started_at, ended_at, pacer_closed_at, caller_id, provider_call_id)
			 VALUES (?1, ?2, 'campaign', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?12, ?12, ?13, ?14)
			 ON CONFLICT (id) DO UPDATE SET
			   status = CASE
			     WHEN calls.ended_at IS NOT NULL THEN calls.status
			     WHEN excluded.ended_at IS NOT NULL OR calls.status IN ('queued', 'dialing') THEN excluded.status
			     ELSE calls.status END,
			   outcome = CASE WHEN calls.ended_at IS NULL THEN excluded.outcome ELSE calls.outcome END,
			   failure_reason = CASE WHEN calls.ended_at IS NULL THEN excluded.failure_reason ELSE calls.failure_reason END,
			   started_at = CASE WHEN calls.status = 'queued' AND excluded.status = 'dialing' THEN excluded.started_at ELSE calls.started_at END,
			   ended_at = coalesce(calls.ended_at, excluded.ended_at),
			   pacer_closed_at = coalesce(calls.pacer_closed_at, excluded.pacer_closed_at),
			   provider_call_id = coalesce(calls.provider_call_id, excluded.provider_call_id),
			   updated_at = excluded.updated_at`,
		)
		.bind(
			call.id,
			ids.accountId,
			ids.campaignId,
			call.contact_id,
			call.attempt,
			call.phone,
			status,
			ended ? call.outcome : null,
			ended ? call.failure_reason : null,
			iso(now),
			iso(call.started_at),
			iso(call.ended_at),
			ids.callerId,
			call.provider_call_id,
		);
}

export function contactStatement(
	db: D1Database,
	contact: { id: string; state: string; attempts: number; last_outcome: string | null; skip_reason: string | null },
): D1PreparedStatement {
	return db
		.prepare("UPDATE campaign_contacts SET status = ?, attempts = ?, last_outcome = ?, skip_reason = ? WHERE id = ?")
		.bind(contact.state, contact.attempts, contact.last_outcome, contact.skip_reason, contact.id);
}

export interface CampaignMirror {
	status: CampaignStatus;
	wakeAt: number | null;
	/** The D1 version the pacer's config was read from. */
	configVersion: number;
	/** The version of the account's contact policy the pacer runs (0: the defaults). */
	policyVersion: number;
}

/**
 * Status, next wake and the config and policy versions the pacer runs. A status change bumps
 * the row's version (its ETag); the pacer still runs that row's config, so `pacer_version` follows.
 */
export function campaignStatement(db: D1Database, campaignId: string, mirror: CampaignMirror, now: number): D1PreparedStatement {
	return db
		.prepare(
			`UPDATE autocall_campaigns SET
			   version = version + (status != ?1),
			   pacer_version = CASE WHEN version = ?2 THEN version + (status != ?1) ELSE ?2 END,
			   updated_at = CASE WHEN status != ?1 THEN ?3 ELSE updated_at END,
			   status = ?1,
			   next_wake_at = ?4,
			   pacer_policy_version = ?6
			 WHERE id = ?5`,
		)
		.bind(mirror.status, mirror.configVersion, iso(now), iso(mirror.wakeAt), campaignId, mirror.policyVersion);
}
