import { z } from "zod";
import { readOnlyFields } from "../http/representation";

export const ExtensionNumber = z.string().regex(/^\d{2,8}$/, "2 to 8 digits.");

export const ExtensionBody = z.strictObject({
	extension: ExtensionNumber,
	name: z.string().trim().min(1).max(200),
	user_id: z.uuid().nullable().default(null),
	caller_id: z.string().min(3).max(32).nullable().default(null),
	enabled: z.boolean().default(true),
});

/** PUT replaces the whole extension; its number is the path's, and GET's read-only fields may come back with the body. */
export const ExtensionPutBody = ExtensionBody.extend({
	...readOnlyFields,
	extension: ExtensionNumber.optional().describe("Read-only: the number in the path; another is a 422."),
});

export const Extension = z.object({
	id: z.uuid(),
	extension: ExtensionNumber,
	name: z.string(),
	user_id: z.uuid().nullable(),
	caller_id: z.string().nullable(),
	enabled: z.boolean(),
	version: z.int(),
	created_at: z.iso.datetime(),
	updated_at: z.iso.datetime(),
});

export const CallerIdBody = z.strictObject({
	number: z.string().min(3).max(32),
	label: z.string().trim().min(1).max(100),
});

export const CallerId = z.object({ id: z.uuid(), number: z.string(), label: z.string(), created_at: z.iso.datetime() });

export const QueueBody = z.strictObject({
	name: z.string().trim().min(1).max(100),
	strategy: z.enum(["ring_all", "round_robin", "least_recent"]).default("ring_all"),
	extensions: z.array(ExtensionNumber).max(200).default([]),
});

export const Queue = z.object({
	id: z.uuid(),
	name: z.string(),
	strategy: z.string(),
	extensions: z.array(z.string()),
	created_at: z.iso.datetime(),
});

export const ClickToCallBody = z.strictObject({
	from_extension: ExtensionNumber,
	to_phone: z.string().min(3).max(32),
	caller_id: z.string().min(3).max(32).optional(),
});

/** A call's state; the final ones are also its `outcome`. `queued`: waiting for the provider (an outage, a retry). */
export const CallStatus = z.enum([
	"queued",
	"dialing",
	"ringing",
	"in_progress",
	"completed",
	"no_answer",
	"busy",
	"failed",
	"timeout",
	"cancelled",
]);

export const Call = z.object({
	id: z.uuid(),
	kind: z.enum(["click_to_call", "campaign"]),
	campaign_id: z.uuid().nullable(),
	contact_id: z.uuid().nullable(),
	attempt: z.int(),
	from_extension: z.string().nullable(),
	to_phone: z.string(),
	caller_id: z.string().nullable(),
	status: CallStatus,
	outcome: z.string().nullable(),
	created_at: z.iso.datetime(),
	updated_at: z.iso.datetime(),
	started_at: z.iso.datetime().nullable(),
	answered_at: z.iso.datetime().nullable(),
	ended_at: z.iso.datetime().nullable(),
	duration_seconds: z.int().nullable(),
	failure_reason: z.string().nullable().describe("Why the provider refused the call, when it did."),
});

export const CallListQuery = z.object({
	limit: z.coerce.number().int().min(1).max(100).default(50),
	cursor: z.string().max(500).optional(),
	status: CallStatus.optional(),
});
