import type { z } from "zod";
import type { RecipientRule } from "../../durable-objects/campaign/recipient-hours";
import { parseClock } from "../../durable-objects/campaign/schedule";
import type { ContactPolicy as ContactPolicySchema } from "./schemas";

/**
 * The account's contact policy (SPEC "Contact policy and calling-hours compliance"), as the
 * API shows it, with the version of the stored row (0: never set, the defaults). The one row
 * per account lives in D1 (`contact_policies`); `readContactPolicy` is how other parts read it.
 */
export type ContactPolicy = z.infer<typeof ContactPolicySchema> & { version: number };

export const DEFAULT_CONTACT_POLICY: ContactPolicy = {
	recipient_hours: null,
	unknown_timezone: "campaign",
	max_attempts_per_number: null,
	version: 0,
};

export interface ContactPolicyRow {
	recipient_hours_start: string | null;
	recipient_hours_end: string | null;
	unknown_timezone: "campaign" | "skip";
	max_attempts_count: number | null;
	max_attempts_days: number | null;
	version: number;
}

export const POLICY_COLUMNS =
	"recipient_hours_start, recipient_hours_end, unknown_timezone, max_attempts_count, max_attempts_days, version";

/** A stored row as the typed policy; no row is the defaults. */
export function policyFromRow(row: ContactPolicyRow | null | undefined): ContactPolicy {
	if (!row) return DEFAULT_CONTACT_POLICY;
	return {
		recipient_hours:
			row.recipient_hours_start !== null && row.recipient_hours_end !== null
				? { start: row.recipient_hours_start, end: row.recipient_hours_end }
				: null,
		unknown_timezone: row.unknown_timezone,
		max_attempts_per_number:
			row.max_attempts_count !== null && row.max_attempts_days !== null
				? { count: row.max_attempts_count, days: row.max_attempts_days }
				: null,
		version: row.version,
	};
}

/** The read of an account's policy row, for a batch that needs it beside other reads. */
export const policyStatement = (db: D1Database, accountId: string) =>
	db.prepare(`SELECT ${POLICY_COLUMNS} FROM contact_policies WHERE account_id = ?`).bind(accountId);

/** The account's contact policy, its defaults where it never set one. */
export async function readContactPolicy(db: D1Database, accountId: string): Promise<ContactPolicy> {
	return policyFromRow(await policyStatement(db, accountId).first<ContactPolicyRow>());
}

/** What a campaign's pacer applies of the policy when it decides whether a call may start. */
export function recipientRule(policy: ContactPolicy): RecipientRule {
	return {
		hours: policy.recipient_hours
			? { startMinute: parseClock(policy.recipient_hours.start), endMinute: parseClock(policy.recipient_hours.end) }
			: null,
		unknownTimezone: policy.unknown_timezone,
	};
}

/** The API's representation: the SPEC's three fields, nothing of the row besides. */
export const presentPolicy = (policy: ContactPolicy): z.infer<typeof ContactPolicySchema> => ({
	recipient_hours: policy.recipient_hours,
	unknown_timezone: policy.unknown_timezone,
	max_attempts_per_number: policy.max_attempts_per_number,
});
