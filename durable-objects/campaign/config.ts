import { DEFAULT_RETRY_ON, RETRYABLE_OUTCOMES, type RetryableOutcome, type RetryPolicy } from "./pacing";
import { type CampaignWindow, parseClock } from "./schedule";

export type CampaignStatus = "draft" | "scheduled" | "active" | "paused" | "completed" | "cancelled" | "failed";

/** What the pacer needs of a campaign; built from its D1 row. */
export interface PacerConfig {
	campaignId: string;
	accountId: string;
	window: CampaignWindow;
	maxConcurrent: number;
	maxPerDay: number | null;
	retry: RetryPolicy;
	/** The agent the account's agent platform is asked to connect an answered call to. */
	agentId: string;
	/** The number the campaign's calls present (null: none resolved; only the local providers dial then). */
	callerId: string | null;
	machineDetection: boolean;
	/** D1 row version this config was read from: older configs never overwrite newer ones. */
	version: number;
}

export interface CampaignRow {
	id: string;
	account_id: string;
	schedule_type: "immediate" | "scheduled";
	scheduled_at: string | null;
	timezone: string;
	start_time: string;
	end_time: string;
	working_days: string;
	max_concurrent_calls: number;
	max_calls_per_day: number | null;
	retry_failed: number;
	max_retry_attempts: number;
	retry_delay_seconds: number;
	retry_on: string;
	agent_id: string;
	caller_id: string | null;
	machine_detection: number;
	status: CampaignStatus;
	version: number;
}

export function configFromRow(row: CampaignRow): PacerConfig {
	return {
		campaignId: row.id,
		accountId: row.account_id,
		window: {
			timezone: row.timezone,
			startMinute: parseClock(row.start_time),
			endMinute: parseClock(row.end_time),
			workingDays: JSON.parse(row.working_days),
			scheduledAt: row.schedule_type === "scheduled" && row.scheduled_at ? Date.parse(row.scheduled_at) : null,
		},
		maxConcurrent: row.max_concurrent_calls,
		maxPerDay: row.max_calls_per_day,
		retry: {
			enabled: row.retry_failed === 1,
			maxAttempts: row.max_retry_attempts,
			delayMs: row.retry_delay_seconds * 1000,
			on: parseRetryOn(row.retry_on),
		},
		agentId: row.agent_id,
		callerId: row.caller_id,
		machineDetection: row.machine_detection === 1,
		version: row.version,
	};
}

/** The stored JSON list of retried outcomes; anything unreadable falls back to the default. */
function parseRetryOn(json: string | undefined): RetryableOutcome[] {
	try {
		const parsed: unknown = JSON.parse(json ?? "null");
		if (Array.isArray(parsed)) return RETRYABLE_OUTCOMES.filter((outcome) => parsed.includes(outcome));
	} catch {
		// A row written before retry_on existed.
	}
	return [...DEFAULT_RETRY_ON];
}
