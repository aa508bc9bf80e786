import { z } from "zod";
import { OrderedPageQuery } from "../http/pagination";
import { readOnlyFields } from "../http/representation";

export const ExtensionNumber = z.string().regex(/^\d{2,8}$/, "2 to 8 digits.");

/** Unreserved and user-unreserved characters of RFC 3261's `user`, or a %-escape: no `@`, `:`, `;` or `?`. */
const SIP_USER = String.raw`(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})+`;
const SIP_HOST = String.raw`(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\])`;
const SIP_PARAM = String.raw`;[A-Za-z0-9\-_.!~*'%]+(?:=[A-Za-z0-9\-_.!~*'%]+)?`;
/** `sip:` / `sips:` user@host[:port][;params]; no password and no `?headers`, which carriers refuse or misread. */
const SIP_URI = new RegExp(String.raw`^sips?:${SIP_USER}@${SIP_HOST}(?::(\d{1,5}))?(?:${SIP_PARAM})*$`, "i");

export const SipUri = z
	.string()
	.trim()
	.max(256)
	.refine(
		(value) => {
			const match = SIP_URI.exec(value);
			const port = match?.[1];
			return match !== null && (port === undefined || (Number(port) >= 1 && Number(port) <= 65_535));
		},
		{ message: "Must be a SIP URI: sip:user@host or sips:user@host, optionally with :port and ;parameters." },
	)
	// The scheme is case-insensitive (RFC 3261 §19.1.4): stored as carriers expect it, the rest as sent.
	.transform((value) => value.replace(/^sips?:/i, (scheme) => scheme.toLowerCase()));

const extensionLegs = {
	sip_uri: SipUri.nullable().describe(
		"Where a click-to-call from this extension rings the agent first: a SIP URI (sip:agent@pbx.example.com). When both are set, sip_uri rings and forward_to is not used.",
	),
	forward_to: z
		.string()
		.min(3)
		.max(32)
		.nullable()
		.describe("A phone number to ring the agent on (normalised to E.164 in the account's region), when sip_uri is not set."),
};

export const ExtensionBody = z.strictObject({
	extension: ExtensionNumber,
	name: z.string().trim().min(1).max(200),
	user_id: z.uuid().nullable().default(null),
	caller_id: z.string().min(3).max(32).nullable().default(null),
	enabled: z.boolean().default(true),
	sip_uri: extensionLegs.sip_uri.default(null),
	forward_to: extensionLegs.forward_to.default(null),
});

/** PUT replaces the whole extension; its number is the path's, and GET's read-only fields may come back with the body. */
export const ExtensionPutBody = ExtensionBody.extend({
	...readOnlyFields,
	extension: ExtensionNumber.optional().describe("Read-only: the number in the path; another is a 422."),
});

/** PATCH changes the fields it names; GET's representation may come back whole, as with PUT. */
export const ExtensionPatch = z
	.strictObject({
		name: ExtensionBody.shape.name,
		user_id: z.uuid().nullable(),
		caller_id: z.string().min(3).max(32).nullable(),
		enabled: z.boolean(),
		...extensionLegs,
		...readOnlyFields,
		extension: ExtensionNumber.describe("Read-only: the number in the path; another is a 422."),
	})
	.partial()
	.meta({ id: "ExtensionPatch" });

export const Extension = z.object({
	id: z.uuid(),
	extension: ExtensionNumber,
	name: z.string(),
	user_id: z.uuid().nullable(),
	caller_id: z.string().nullable(),
	enabled: z.boolean(),
	sip_uri: z.string().nullable().describe("The SIP URI a click-to-call rings the agent on; wins over forward_to."),
	forward_to: z.string().nullable().describe("The number (E.164) a click-to-call rings the agent on, when sip_uri is null."),
	version: z.int(),
	created_at: z.iso.datetime(),
	updated_at: z.iso.datetime(),
});

const CallerIdLabel = z.string().trim().min(1).max(100);

export const CallerIdBody = z.strictObject({
	number: z.string().min(3).max(32),
	label: CallerIdLabel,
	is_default: z.boolean().default(false).describe("Make it the account's default caller id (the previous default is unmarked)."),
});

/** What a caller id's PATCH may change; its number is what it is (register another instead). */
export const CallerIdPatch = z
	.strictObject({
		label: CallerIdLabel,
		is_default: z
			.boolean()
			.describe("true: the account's default caller id from now on (the previous one is unmarked); false: unmark it."),
	})
	.partial()
	.meta({ id: "CallerIdPatch" });

export const CallerId = z.object({
	id: z.uuid(),
	number: z.string(),
	label: z.string(),
	is_default: z
		.boolean()
		.describe(
			"The number calls present when no caller id is named. At most one per account; with none marked, the oldest is used.",
		),
	created_at: z.iso.datetime(),
});

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

/**
 * A call's state; the final ones are also its `outcome`. `queued`: waiting for the provider (an
 * outage, a retry). `skipped`: a campaign call the contact policy refused before its dial (never dialled).
 */
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
	"skipped",
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
	failure_reason: z
		.string()
		.nullable()
		.describe(
			"Why the provider refused the call, when it did; for a `skipped` campaign call (never dialled), the contact policy's reason: `do_not_call`, `max_attempts`, `unknown_timezone` or `no_calling_hours` (a call waiting to be asked again when its contact was skipped).",
		),
});

export const CallListQuery = OrderedPageQuery.extend({
	status: CallStatus.optional(),
});
