import type { AccountEvent, Call } from "./types";

/** A contact the account's contact policy ended without a call, and why. */
export interface SkippedContact {
	contactId: string;
	campaignId: string;
	phone: string;
	reason: string;
	/** Epoch ms. */
	at: number;
}

const REASONS: Record<string, string> = {
	do_not_call: "on the do-not-call list",
	max_attempts: "attempts per number used up",
	unknown_timezone: "time zone unknown (unknown_timezone: skip)",
};

export const skipReason = (reason: string) => REASONS[reason] ?? reason;

/** A `contact.skipped` event as a skipped contact; undefined for any other event or a malformed one. */
export function skippedFromEvent(event: AccountEvent): SkippedContact | undefined {
	const { campaign_id, contact_id, phone, reason } = event.data;
	if (event.type !== "contact.skipped" || typeof campaign_id !== "string" || typeof contact_id !== "string") return undefined;
	return {
		contactId: contact_id,
		campaignId: campaign_id,
		phone: typeof phone === "string" ? phone : "",
		reason: typeof reason === "string" ? reason : "",
		at: Date.parse(event.created_at),
	};
}

/** A campaign call the policy refused at its dial (status `skipped`, the reason in failure_reason). */
export function skippedFromCall(call: Call): SkippedContact | undefined {
	if (call.status !== "skipped" || !call.contact_id || !call.campaign_id) return undefined;
	return {
		contactId: call.contact_id,
		campaignId: call.campaign_id,
		phone: call.to_phone,
		reason: call.failure_reason ?? "",
		at: Date.parse(call.ended_at ?? call.created_at),
	};
}

/** One campaign's skipped contacts from every source, each contact once, the latest first, at most `limit`. */
export function latestSkipped(sources: SkippedContact[][], campaignId: string, limit: number): SkippedContact[] {
	const byContact = new Map<string, SkippedContact>();
	for (const skipped of sources.flat()) {
		if (skipped.campaignId !== campaignId) continue;
		const known = byContact.get(skipped.contactId);
		if (!known || skipped.at > known.at) byContact.set(skipped.contactId, skipped);
	}
	return [...byContact.values()].sort((a, b) => b.at - a.at).slice(0, limit);
}
