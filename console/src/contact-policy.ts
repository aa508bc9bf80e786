import type { ContactPolicy } from "./types";

/** The account's contact policy as the page knows it: read, still loading, or unreadable (with why). */
export type PolicyState = { state: "loaded"; policy: ContactPolicy } | { state: "loading" } | { state: "unknown"; why: string };

/**
 * "unknown (needs …)": what the operator would need for the policy to be shown, from the
 * refused read's HTTP status (0: no answer; undefined: a failure in the console itself).
 */
export function unknownBecause(status: number | undefined): string {
	if (status === undefined) return "unknown (the console could not read it)";
	if (status === 401 || status === 403) return "unknown (needs a token allowed to read the account's contact policy)";
	if (status === 404) return "unknown (needs a server with GET /api/account/contact-policy)";
	if (status === 429) return "unknown (needs a moment: the account rate-limit group is spent)";
	if (status === 0) return "unknown (needs the server to answer)";
	return `unknown (the server answered ${status})`;
}

const UNKNOWN_ZONES: Record<ContactPolicy["unknown_timezone"], string> = {
	campaign: "campaign (held to these hours in the campaign's zone)",
	skip: "skip (not called, counted skipped)",
};

/** The recipient-hours entry: off, or the hours and what happens to contacts of unknown zone. */
export function describeRecipientHours(policy: ContactPolicy): string {
	const hours = policy.recipient_hours;
	if (!hours) return "Off: the campaign's window alone decides";
	return `${hours.start}–${hours.end} in each contact's own time zone; unknown zones: ${UNKNOWN_ZONES[policy.unknown_timezone]}`;
}

/** The frequency cap in words, or null when there is none. */
export function describeAttemptCap(policy: ContactPolicy): string | null {
	const cap = policy.max_attempts_per_number;
	if (!cap) return null;
	const calls = cap.count === 1 ? "1 call" : `${cap.count} calls`;
	const days = cap.days === 1 ? "24 h" : `${cap.days} days`;
	return `At most ${calls} to a number in any ${days}, across all campaigns`;
}

/**
 * What the recipient hours mean for this campaign now, from the two windows: the campaign's
 * own (computed by the console) and the live one, which the server narrows to the pending
 * contacts' local hours. Null when there is nothing to add (no recipient hours, or unknown).
 */
export function recipientHoursNow(
	policy: PolicyState,
	campaignOpen: boolean | undefined,
	live: { window_open: boolean; contacts: { pending: number } } | undefined,
): string | null {
	if (policy.state !== "loaded" || !policy.policy.recipient_hours || !live) return null;
	if (campaignOpen === false) return "The campaign's own window is closed";
	if (live.contacts.pending === 0) return "No contact is pending";
	if (live.window_open) return "At least one pending contact is inside its local hours";
	return campaignOpen ? "No pending contact is inside its local hours" : null;
}
