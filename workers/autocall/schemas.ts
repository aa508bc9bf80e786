import { z } from "zod";
import { DEFAULT_RETRY_ON, RETRYABLE_OUTCOMES } from "../../durable-objects/campaign/pacing";
import { parseClock } from "../../durable-objects/campaign/schedule";
import { RecipientTimezone, recipientTimeFields } from "../compliance/schemas";
import { readOnlyFields } from "../http/representation";
import { Attributes } from "../lib/attributes";
import { Clock, TimeZone } from "../lib/time-schemas";

export const MAX_CONTACTS = 10_000;

const WorkingDays = z
	.array(z.int().min(1).max(7))
	.min(1)
	.max(7)
	.refine((days) => new Set(days).size === days.length, { message: "Each day once (1 = Monday … 7 = Sunday)." });

export const ContactInput = z.strictObject({
	phone: z.string().min(3).max(32),
	name: z.string().trim().max(200).default(""),
	timezone: RecipientTimezone.nullish(),
	attributes: Attributes.default({}),
});

/** Pacing and window fields, shared by create and PATCH. */
const pacing = {
	timezone: TimeZone,
	start_time: Clock,
	end_time: Clock,
	working_days: WorkingDays,
	max_concurrent_calls: z.int().min(1).max(100),
	max_calls_per_day: z.int().min(1).max(1_000_000).nullable(),
	retry_failed: z.boolean(),
	max_retry_attempts: z.int().min(0).max(3),
	retry_delay_seconds: z.int().min(30).max(86_400),
	retry_on: z
		.array(z.enum(RETRYABLE_OUTCOMES))
		.min(1)
		.max(RETRYABLE_OUTCOMES.length)
		.refine((outcomes) => new Set(outcomes).size === outcomes.length, { message: "Each outcome once." })
		.describe(
			"The outcomes the retry policy retries (when retry_failed): no_answer, busy, voicemail (a machine, with machine_detection).",
		),
	machine_detection: z
		.boolean()
		.describe(
			"Answering-machine detection: a machine ends the call `voicemail` instead of reaching the agent (carriers only; the simulated provider plays it for numbers ending in 6).",
		),
	caller_id: z
		.string()
		.min(3)
		.max(32)
		.nullable()
		.describe(
			"The number the calls present: one of the account's caller ids. Without one (or null), the account's default caller id at the time of the write.",
		),
};

function windowIsOrdered(value: { start_time?: string; end_time?: string }, ctx: z.RefinementCtx) {
	if (value.start_time && value.end_time && parseClock(value.start_time) >= parseClock(value.end_time)) {
		ctx.addIssue({ code: "custom", path: ["end_time"], message: "Must be after start_time (windows do not cross midnight)." });
	}
}

/** The seed's batch-call payload, as written. */
export const CreateCampaignBody = z
	.strictObject({
		name: z.string().trim().min(1).max(200),
		agent_id: z.uuid(),
		contact_source: z.enum(["folder", "inline"]),
		contact_folder_id: z.uuid().optional(),
		contacts: z
			.array(z.union([z.string(), z.unknown()]))
			.max(MAX_CONTACTS)
			.optional(),
		schedule_type: z.enum(["immediate", "scheduled"]).default("immediate"),
		scheduled_at: z.iso.datetime({ offset: true }).optional(),
		timezone: pacing.timezone.default("UTC"),
		start_time: pacing.start_time.default("09:00"),
		end_time: pacing.end_time.default("17:00"),
		working_days: pacing.working_days.default([1, 2, 3, 4, 5]),
		max_concurrent_calls: pacing.max_concurrent_calls.default(10),
		max_calls_per_day: pacing.max_calls_per_day.default(null),
		retry_failed: pacing.retry_failed.default(false),
		max_retry_attempts: pacing.max_retry_attempts.default(1),
		retry_delay_seconds: pacing.retry_delay_seconds.default(300),
		retry_on: pacing.retry_on.default([...DEFAULT_RETRY_ON]),
		machine_detection: pacing.machine_detection.default(false),
		caller_id: pacing.caller_id.optional(),
	})
	.superRefine((value, ctx) => {
		windowIsOrdered(value, ctx);
		if (value.schedule_type === "scheduled" && !value.scheduled_at) {
			ctx.addIssue({ code: "custom", path: ["scheduled_at"], message: "Required when schedule_type is scheduled." });
		}
		if (value.contact_source === "folder" && !value.contact_folder_id) {
			ctx.addIssue({ code: "custom", path: ["contact_folder_id"], message: "Required when contact_source is folder." });
		}
		if (value.contact_source === "inline" && !value.contacts?.length) {
			ctx.addIssue({ code: "custom", path: ["contacts"], message: "At least one contact when contact_source is inline." });
		}
	});

const Status = z.enum(["draft", "scheduled", "active", "paused", "completed", "cancelled", "failed"]);

/** What a PATCH may change. */
const settings = { name: z.string().trim().min(1).max(200), ...pacing };

/** A campaign's settings as a PATCH leaves them, checked whole (the window's order is checked with the patch in view). */
export const CampaignSettings = z.strictObject(settings);

/**
 * The fields to change; the rest of GET's representation may come back with them: what the
 * campaign was created with must match, status (actions change it) and live figures are ignored.
 */
export const UpdateCampaignBody = z
	.strictObject({
		...settings,
		...readOnlyFields,
		agent_id: z.uuid().describe("Read-only: another value is a 422."),
		contact_source: z.enum(["folder", "inline"]).describe("Read-only: another value is a 422."),
		contact_folder_id: z.uuid().nullable().describe("Read-only: another value is a 422."),
		schedule_type: z.enum(["immediate", "scheduled"]).describe("Read-only: another value is a 422."),
		scheduled_at: z.iso.datetime({ offset: true }).nullable().describe("Read-only: another instant is a 422."),
		status: Status.describe("Read-only: ignored (pause, resume and cancel change it)."),
		live: z.record(z.string(), z.unknown()).describe("Read-only: ignored."),
	})
	.partial();

export const AutocallCampaign = z.object({
	id: z.uuid(),
	name: z.string(),
	agent_id: z.uuid(),
	contact_source: z.enum(["folder", "inline"]),
	contact_folder_id: z.uuid().nullable(),
	schedule_type: z.enum(["immediate", "scheduled"]),
	scheduled_at: z.iso.datetime().nullable(),
	timezone: z.string(),
	start_time: z.string(),
	end_time: z.string(),
	working_days: z.array(z.int()),
	max_concurrent_calls: z.int(),
	max_calls_per_day: z.int().nullable(),
	retry_failed: z.boolean(),
	max_retry_attempts: z.int(),
	retry_delay_seconds: z.int(),
	retry_on: z.array(z.enum(RETRYABLE_OUTCOMES)),
	machine_detection: z.boolean(),
	caller_id: z.string().nullable().describe("The number the calls present (E.164); null when the account had none."),
	status: Status,
	version: z.int(),
	created_at: z.iso.datetime(),
	updated_at: z.iso.datetime(),
	live: z
		.object({
			contacts: z.object({
				total: z.int(),
				pending: z.int(),
				in_flight: z.int(),
				done: z.int(),
				skipped: z
					.int()
					.describe(
						"Contacts ended without a call by the account's contact policy (do-not-call list, max_attempts_per_number, an unknown time zone under `skip`, recipient hours that meet the campaign's window at no minute within a year; `contact.skipped` says why each one: `do_not_call`, `max_attempts`, `unknown_timezone`, `no_calling_hours`): final, also if the window or policy changes later; not in `done`.",
					),
			}),
			in_flight: z.int(),
			calls_today: z.int(),
			window_open: z
				.boolean()
				.describe(
					"Whether a call may start now by the windows: the campaign's, and with recipient hours (the account's contact policy) at least one pending contact's local hours.",
				),
			next_opening_at: z.iso
				.datetime()
				.nullable()
				.describe(
					"When the window next opens (with recipient hours: the earliest moment a pending contact may be called, looked for up to a year ahead); null while it is open, for a campaign that is neither active nor scheduled, and when no pending contact can be called within a year (such contacts end `skipped`, `no_calling_hours`).",
				),
			provider: z
				.object({
					state: z.enum(["available", "unavailable"]),
					since: z.iso.datetime().nullable(),
					next_try_at: z.iso.datetime().nullable(),
					last_error: z.string().nullable(),
				})
				.describe(
					"The dialer provider as this campaign sees it. While it refuses dials for a transient reason the campaign keeps its status, its contacts wait with their attempts unused, and one probe goes out at next_try_at.",
				),
		})
		.optional(),
});

export const ContactFolderBody = z.strictObject({ name: z.string().trim().min(1).max(200) });

/** A folder's contact as listed. */
export const Contact = z
	.object({
		id: z.uuid(),
		phone: z.string().describe("E.164"),
		name: z.string(),
		attributes: z.record(z.string(), z.unknown()),
		...recipientTimeFields,
		created_at: z.iso.datetime(),
	})
	.meta({ id: "Contact" });

export const ContactFolder = z.object({
	id: z.uuid(),
	name: z.string(),
	contacts: z.int().optional(),
	created_at: z.iso.datetime(),
});

export const ContactImportBody = z.strictObject({
	contacts: z.array(z.unknown()).min(1).max(MAX_CONTACTS),
	atomic: z.boolean().default(false),
});
