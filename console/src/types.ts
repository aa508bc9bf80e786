/** The API's shapes as the console reads them (the OpenAPI document at /openapi.json is the reference). */

export type CampaignStatus = "draft" | "scheduled" | "active" | "paused" | "completed" | "cancelled" | "failed";

export interface ProviderState {
	state: "available" | "unavailable";
	since: string | null;
	next_try_at: string | null;
	last_error: string | null;
}

export interface CampaignLive {
	/** `skipped`: ended without a call by the contact policy (final, not in `done`). */
	contacts: { total: number; pending: number; in_flight: number; done: number; skipped: number } & Record<string, unknown>;
	in_flight: number;
	calls_today: number;
	/** Both windows: the campaign's, and with recipient hours, some pending contact's local hours. */
	window_open: boolean;
	/** When either window next lets a pending contact be called. */
	next_opening_at: string | null;
	provider: ProviderState;
	/** Fields a newer server adds are shown as they come. */
	[extra: string]: unknown;
}

export interface Campaign {
	id: string;
	name: string;
	agent_id: string;
	schedule_type: "immediate" | "scheduled";
	scheduled_at: string | null;
	timezone: string;
	start_time: string;
	end_time: string;
	working_days: number[];
	max_concurrent_calls: number;
	max_calls_per_day: number | null;
	status: CampaignStatus;
	version: number;
	created_at: string;
	updated_at: string;
	live?: CampaignLive;
}

export interface Call {
	id: string;
	kind: "click_to_call" | "campaign";
	campaign_id: string | null;
	contact_id: string | null;
	attempt: number;
	from_extension: string | null;
	to_phone: string;
	status: string;
	outcome: string | null;
	created_at: string;
	started_at: string | null;
	answered_at: string | null;
	ended_at: string | null;
	duration_seconds: number | null;
	failure_reason: string | null;
}

/** The account's contact policy (`GET /api/account/contact-policy`). */
export interface ContactPolicy {
	recipient_hours: { start: string; end: string } | null;
	unknown_timezone: "campaign" | "skip";
	max_attempts_per_number: { count: number; days: number } | null;
}

export interface Page<T> {
	data: T[];
	next_cursor: string | null;
}

export interface Me {
	user: { id: string; username: string; role: "platform_admin" | "owner" | "member" };
	account: { id: string; default_region: string; rate_limits: Record<string, number>; max_connections: number };
	token: { id: string; kind: "session" | "api" };
}

export interface GroupLimit {
	group: string;
	limit: number;
	remaining: number;
	reset_at: string;
	window_seconds: number;
	retry_after_seconds: number | null;
}

export interface TokenLimits {
	groups: GroupLimit[];
	connections: { limit: number; in_flight: number };
}

export interface WebhookEndpoint {
	id: string;
	url: string;
	events: string[];
	description: string;
	enabled: boolean;
	disabled_reason: string | null;
	failing_since: string | null;
	last_success_at: string | null;
	version: number;
	created_at: string;
}

export interface DeliveryAttempt {
	attempt: number;
	status_code: number | null;
	error: string | null;
	latency_ms: number;
	attempted_at: string;
}

export interface Delivery {
	id: string;
	event_id: string;
	event_type: string;
	status: "pending" | "sending" | "delivered" | "failed" | "dead" | "skipped";
	attempts: DeliveryAttempt[];
	next_attempt_at: string | null;
	created_at: string;
}

export interface Account {
	id: string;
	name: string;
	default_region: string;
	created_at: string;
}

/** An account event, as the stream and webhooks carry it. */
export interface AccountEvent {
	id: string;
	type: string;
	created_at: string;
	data: Record<string, unknown>;
}
