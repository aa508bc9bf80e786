import type { Campaign, CampaignLive } from "./types";

/**
 * Why a campaign is not starting calls now, in the operator's words, most decisive first; an
 * empty list while it dials. Read from the campaign's status and live counters only.
 */
export function idleReasons(campaign: Campaign, formatTime: (iso: string) => string): string[] {
	const { live, status } = campaign;
	if (status === "completed" || status === "cancelled" || status === "failed") return [`The campaign is ${status}.`];
	if (status === "draft") return ["The campaign is a draft."];
	if (status === "paused") return ["Paused: nothing new starts until it is resumed; calls in flight finish."];
	if (!live) return [];
	const reasons: string[] = [];
	if (status === "scheduled" && campaign.scheduled_at)
		reasons.push(`Scheduled to start at ${formatTime(campaign.scheduled_at)}.`);
	if (!live.window_open) {
		reasons.push(
			live.next_opening_at
				? `Outside the calling window: it next opens at ${formatTime(live.next_opening_at)}.`
				: "Outside the calling window.",
		);
	}
	if (live.provider.state === "unavailable") {
		const next = live.provider.next_try_at ? `; next try at ${formatTime(live.provider.next_try_at)}` : "";
		const error = live.provider.last_error ? ` (${live.provider.last_error})` : "";
		reasons.push(`The dialer provider is unavailable${error}${next}.`);
	}
	if (campaign.max_calls_per_day !== null && live.calls_today >= campaign.max_calls_per_day) {
		reasons.push(`Today's cap is reached: ${live.calls_today} of ${campaign.max_calls_per_day} calls.`);
	}
	if (reasons.length === 0 && live.contacts.pending === 0 && live.in_flight === 0 && live.contacts.done < live.contacts.total) {
		reasons.push("Contacts are waiting for a retry.");
	}
	return reasons;
}

const KNOWN_LIVE = new Set(["contacts", "in_flight", "calls_today", "window_open", "next_opening_at", "provider"]);
const KNOWN_CONTACTS = new Set(["total", "pending", "in_flight", "done"]);

/**
 * Live fields this console does not know by name (a newer server's recipient hours, say),
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
