import type { Campaign, CampaignLive } from "./types";

/** What the page knows besides the campaign: its own window now, and whether recipient hours are on. */
export interface WindowContext {
	/** The campaign's own window at the browser's clock (campaign-window.ts); undefined if not known. */
	campaignOpen: boolean | undefined;
	/** The account's recipient hours: on, off, or unknown (the policy could not be read). */
	recipientHours: "on" | "off" | "unknown";
}

/** Contacts with nothing left to do: done, or skipped by the contact policy (final too). */
export const settled = (live: CampaignLive) => live.contacts.done + live.contacts.skipped;

/**
 * Why a campaign is not starting calls now, in the operator's words, most decisive first; an
 * empty list while it dials. Read from the campaign's status and live counters, and the window
 * context: a closed live window while the campaign's own is open is the recipient hours.
 */
export function idleReasons(campaign: Campaign, formatTime: (iso: string) => string, context?: WindowContext): string[] {
	const { live, status } = campaign;
	if (status === "completed" || status === "cancelled" || status === "failed") return [`The campaign is ${status}.`];
	if (status === "draft") return ["The campaign is a draft."];
	if (status === "paused") return ["Paused: nothing new starts until it is resumed; calls in flight finish."];
	if (!live) return [];
	const reasons: string[] = [];
	if (status === "scheduled" && campaign.scheduled_at)
		reasons.push(`Scheduled to start at ${formatTime(campaign.scheduled_at)}.`);
	if (!live.window_open) {
		const next = live.next_opening_at ? formatTime(live.next_opening_at) : null;
		const recipients = context?.campaignOpen === true && context.recipientHours !== "off" && live.contacts.pending > 0;
		if (recipients) {
			reasons.push(
				`No pending contact is inside its local hours (the account's recipient hours)${next ? `; next opening at ${next}` : ""}.`,
			);
		} else reasons.push(next ? `Outside the calling window: it next opens at ${next}.` : "Outside the calling window.");
	}
	if (live.provider.state === "unavailable") {
		const next = live.provider.next_try_at ? `; next try at ${formatTime(live.provider.next_try_at)}` : "";
		const error = live.provider.last_error ? ` (${live.provider.last_error})` : "";
		reasons.push(`The dialer provider is unavailable${error}${next}.`);
	}
	if (campaign.max_calls_per_day !== null && live.calls_today >= campaign.max_calls_per_day) {
		reasons.push(`Today's cap is reached: ${live.calls_today} of ${campaign.max_calls_per_day} calls.`);
	}
	if (reasons.length === 0 && live.contacts.pending === 0 && live.in_flight === 0 && settled(live) < live.contacts.total) {
		reasons.push("Contacts are waiting for a retry.");
	}
	return reasons;
}

const KNOWN_LIVE = new Set(["contacts", "in_flight", "calls_today", "window_open", "next_opening_at", "provider"]);
const KNOWN_CONTACTS = new Set(["total", "pending", "in_flight", "done", "skipped"]);

/**
 * Live fields this console does not know by name (a newer server's),
 * flattened to `path: value` pairs, so they are shown rather than dropped.
 */
export function extraLiveFields(live: CampaignLive | undefined): [string, string][] {
	if (!live) return [];
	const pairs: [string, string][] = [];
	const walk = (path: string, value: unknown) => {
		if (value !== null && typeof value === "object" && !Array.isArray(value)) {
			for (const [key, inner] of Object.entries(value)) walk(`${path}.${key}`, inner);
		} else pairs.push([path, Array.isArray(value) ? value.join(", ") : String(value)]);
	};
	for (const [key, value] of Object.entries(live)) if (!KNOWN_LIVE.has(key)) walk(key, value);
	for (const [key, value] of Object.entries(live.contacts)) if (!KNOWN_CONTACTS.has(key)) walk(`contacts.${key}`, value);
	return pairs;
}
