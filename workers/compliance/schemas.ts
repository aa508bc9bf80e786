import { z } from "zod";
import { parseClock } from "../../durable-objects/campaign/schedule";
import { KEEP_ATTEMPTS_DAYS } from "../../durable-objects/ledger-claims";
import { Clock, TimeZone } from "../lib/time-schemas";

/** The most attempts a cap may allow: a sane policy, not a limit of the counting. */
export const MAX_ATTEMPTS_COUNT = 100;
/** The longest window a cap may count over: the contact ledger keeps counted attempts this long, and no longer. */
export const MAX_ATTEMPTS_DAYS = KEEP_ATTEMPTS_DAYS;

const RecipientHours = z
	.strictObject({
		start: Clock.describe("HH:MM in the recipient's own zone: the first minute a call may start."),
		end: Clock.describe("HH:MM in the recipient's own zone: calls start before it (half-open, never across midnight)."),
	})
	.superRefine((value, ctx) => {
		if (parseClock(value.start) >= parseClock(value.end)) {
			ctx.addIssue({ code: "custom", path: ["end"], message: "Must be after start (recipient hours do not cross midnight)." });
		}
	})
	.meta({ id: "RecipientHours" });

const MaxAttempts = z
	.strictObject({
		count: z
			.int()
			.min(1)
			.max(MAX_ATTEMPTS_COUNT)
			.describe("Call attempts to one number, across every campaign of the account, within `days`."),
		days: z
			.int()
			.min(1)
			.max(MAX_ATTEMPTS_DAYS, {
				message: `At most ${MAX_ATTEMPTS_DAYS}: the contact ledger keeps counted attempts for ${MAX_ATTEMPTS_DAYS} days.`,
			})
			.describe(
				`The length of the rolling window the attempts are counted over, in days of 24 h (at most ${MAX_ATTEMPTS_DAYS}, as long as attempts are kept).`,
			),
	})
	.meta({ id: "MaxAttemptsPerNumber" });

const UnknownTimezone = z
	.enum(["campaign", "skip"])
	.describe(
		"A recipient whose zone is unknown (no `timezone`, and a number that does not say it): held to the recipient hours in the campaign's zone (`campaign`), or not called and counted `skipped` (`skip`). Applies while recipient_hours is set.",
	)
	.meta({ id: "UnknownTimezone" });

const fields = {
	recipient_hours: RecipientHours.nullable().describe(
		"Local hours at the recipient's end in which a campaign call may start, besides the campaign's own window: 08:00–21:00 is the US rule (TCPA, the FTC's Telemarketing Sales Rule). Null: the campaign's window alone decides.",
	),
	unknown_timezone: UnknownTimezone,
	max_attempts_per_number: MaxAttempts.nullable().describe(
		"A frequency cap on call attempts per number across all of the account's campaigns. Null: none.",
	),
};

/** The account's contact policy as GET shows it and PUT takes it back. */
export const ContactPolicy = z.object(fields).meta({ id: "ContactPolicy" });

/** A PUT replaces the whole policy: a field left out takes its default. */
export const ContactPolicyBody = z
	.strictObject({
		recipient_hours: fields.recipient_hours.default(null),
		unknown_timezone: fields.unknown_timezone.default("campaign"),
		max_attempts_per_number: fields.max_attempts_per_number.default(null),
	})
	.meta({ id: "ContactPolicyBody" });

/** A recipient's own zone, where a contact or lead is given one: it wins over the number's. */
export const RecipientTimezone = TimeZone.describe(
	"The recipient's own IANA time zone (e.g. America/Chicago): it wins over the zone derived from the number.",
).meta({ id: "RecipientTimezone" });

/** The zones calls to a recipient respect, derived where not given. */
const RecipientTimezones = z
	.array(z.string())
	.describe(
		"The zones calls to this recipient respect: its timezone, else the number's (the country's zone where it keeps one clock; for +1 the area code's or exchange's, several where it spans zones: a call waits until the recipient hours are open in each). Empty: unknown, the contact policy's `unknown_timezone` decides.",
	)
	.meta({ id: "RecipientTimezones" });

/** What a contact or lead shows of its recipient's time: what was given and what calls use. */
export const recipientTimeFields = {
	timezone: z.string().nullable().describe("The recipient's own IANA time zone as given; null when none was."),
	recipient_timezones: RecipientTimezones,
};
