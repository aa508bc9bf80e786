import type { RetryPolicy } from "./pacing";
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
		retry: { enabled: row.retry_failed === 1, maxAttempts: row.max_retry_attempts, delayMs: row.retry_delay_seconds * 1000 },
		version: row.version,
	};
}
