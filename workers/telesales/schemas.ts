import { z } from "zod";
import { RecipientTimezone, recipientTimeFields } from "../compliance/schemas";
import { readOnlyFields } from "../http/representation";
import { Attributes } from "../lib/attributes";

export const CampaignStatus = z.enum(["draft", "active", "paused", "archived"]);

export const CampaignBody = z.strictObject({
	name: z.string().trim().min(1).max(200),
	description: z.string().max(2000).default(""),
	status: CampaignStatus.default("draft"),
});

/** The fields to change; GET's read-only fields may come back with them. */
export const CampaignPatch = z
	.strictObject({
		name: z.string().trim().min(1).max(200),
		description: z.string().max(2000),
		status: CampaignStatus,
		...readOnlyFields,
	})
	.partial();

export const Campaign = z.object({
	id: z.uuid(),
	name: z.string(),
	description: z.string(),
	status: CampaignStatus,
	version: z.int(),
	created_at: z.iso.datetime(),
	updated_at: z.iso.datetime(),
});

export const LeadStatus = z.enum(["new", "contacted", "qualified", "unqualified", "won", "lost", "do_not_call"]);

export const LeadBody = z.strictObject({
	phone: z.string().min(3).max(32),
	name: z.string().trim().max(200).default(""),
	email: z.email().max(320).nullable().default(null),
	status: LeadStatus.default("new"),
	notes: z.string().max(5000).default(""),
	timezone: RecipientTimezone.nullable().default(null),
	attributes: Attributes.default({}),
});

export const LeadPatch = z
	.strictObject({
		name: z.string().trim().max(200),
		email: z.email().max(320).nullable(),
		status: LeadStatus,
		notes: z.string().max(5000),
		timezone: RecipientTimezone.nullable().describe(
			"The recipient's own IANA time zone; null clears it (the number's zone applies again).",
		),
		attributes: Attributes,
	})
	.partial();

/** PATCH of one lead: the fields to change, and GET's read-only fields may come back with them. */
export const LeadPatchBody = LeadPatch.extend({
	...readOnlyFields,
	campaign_id: z.uuid().optional().describe("Read-only: the lead's campaign; another is a 422."),
	phone: z.string().max(32).optional().describe("Read-only: the lead's number as GET shows it; another is a 422."),
	recipient_timezones: z.array(z.string()).optional().describe("Read-only (derived): ignored."),
}).meta({ id: "LeadPatchBody" });

export const Lead = z.object({
	id: z.uuid(),
	campaign_id: z.uuid(),
	phone: z.string().describe("E.164"),
	name: z.string(),
	email: z.string().nullable(),
	status: LeadStatus,
	notes: z.string(),
	attributes: z.record(z.string(), z.unknown()),
	...recipientTimeFields,
	version: z.int(),
	created_at: z.iso.datetime(),
	updated_at: z.iso.datetime(),
});

export const MAX_IMPORT_ROWS = 10_000;
export const MAX_BULK_ITEMS = 1_000;

/** Rows are checked one by one (a bad row is reported, not fatal) unless `atomic` is set. */
export const BulkImportBody = z.strictObject({
	leads: z.array(z.unknown()).min(1).max(MAX_IMPORT_ROWS),
	atomic: z.boolean().default(false),
});

export const BulkImportReport = z.object({
	total: z.int(),
	created: z.int(),
	duplicates: z.int(),
	invalid: z.int(),
	rows: z.array(
		z.object({
			row: z
				.int()
				.describe("0-based index in `leads` (`contacts`); for a text/csv body, of the data record (the header is not one)"),
			line: z.int().optional().describe("text/csv bodies: the file line the record starts on (the header is line 1)"),
			result: z.enum(["created", "duplicate", "invalid"]),
			id: z.uuid().optional().describe("The new lead, or for a duplicate the lead that already has the phone"),
			phone: z.string().optional(),
			errors: z.record(z.string(), z.array(z.string())).optional(),
		}),
	),
});

export const BulkPatchBody = z.strictObject({
	leads: z
		.array(LeadPatch.extend({ id: z.string() }))
		.min(1)
		.max(MAX_BULK_ITEMS),
});

export const BulkDeleteBody = z.strictObject({
	ids: z.array(z.string()).min(1).max(MAX_BULK_ITEMS),
});

export const BulkResult = z.object({
	results: z.array(z.object({ id: z.string(), result: z.enum(["updated", "deleted", "not_found"]) })),
});

export const LeadListQuery = z.object({
	limit: z.coerce.number().int().min(1).max(100).default(50),
	cursor: z.string().max(500).optional(),
	status: LeadStatus.optional(),
});

export const DispositionBody = z.strictObject({
	call_id: z.uuid(),
	outcome: z
		.enum(["answered", "no_answer", "busy", "voicemail", "wrong_number", "callback", "sale", "not_interested", "do_not_call"])
		.describe("`do_not_call` also lists the lead's number on the account's do-not-call list."),
	notes: z.string().max(5000).default(""),
});

export const Disposition = z.object({
	id: z.uuid(),
	lead_id: z.uuid(),
	call_id: z.uuid(),
	outcome: z.string(),
	notes: z.string(),
	created_at: z.iso.datetime(),
});
