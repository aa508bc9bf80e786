import { z } from "zod";
import { readOnlyFields } from "../http/representation";
import { EVENT_TYPES, isValidSubscription } from "./catalog";
import { ATTEMPT_ERRORS } from "./delivery";

const Subscriptions = z
	.array(
		z.string().refine(isValidSubscription, { message: `Unknown event. One of ${EVENT_TYPES.join(", ")}, "<prefix>.*" or "*".` }),
	)
	.min(1)
	.max(50)
	.describe(
		`Event types (${EVENT_TYPES.join(", ")}), "<prefix>.*" or "*". \`contact.skipped\` is \`{campaign_id, status, contact_id, phone, reason}\` (status: the campaign's), reason \`do_not_call\`, \`max_attempts\`, \`unknown_timezone\` or \`no_calling_hours\` (its recipient hours meet the campaign's window at no minute within a year): a campaign contact the account's contact policy refused, never dialled.`,
	);

export const EndpointBody = z.strictObject({
	url: z.string().max(2000),
	events: Subscriptions,
	description: z.string().max(500).default(""),
});

/** The fields to change; GET's read-only fields (the delivery state the server keeps among them) may come back with them. */
export const EndpointPatch = z
	.strictObject({
		url: z.string().max(2000),
		events: Subscriptions,
		description: z.string().max(500),
		enabled: z.boolean(),
		...readOnlyFields,
		disabled_reason: z.string().nullable().describe("Read-only: ignored."),
		failing_since: z.iso.datetime().nullable().describe("Read-only: ignored."),
		last_success_at: z.iso.datetime().nullable().describe("Read-only: ignored."),
	})
	.partial();

export const Endpoint = z.object({
	id: z.uuid(),
	url: z.string(),
	events: z.array(z.string()),
	description: z.string(),
	enabled: z.boolean(),
	disabled_reason: z.string().nullable(),
	failing_since: z.iso.datetime().nullable(),
	last_success_at: z.iso.datetime().nullable(),
	version: z.int(),
	created_at: z.iso.datetime(),
	updated_at: z.iso.datetime(),
});

export const EndpointWithSecret = Endpoint.extend({ secret: z.string().describe("whsec_…: shown only in this response") });

export const Delivery = z.object({
	id: z.string(),
	event_id: z.string(),
	event_type: z.string(),
	status: z.enum(["pending", "sending", "delivered", "failed", "dead", "skipped"]),
	attempts: z.array(
		z.object({
			attempt: z.int(),
			status_code: z.int().nullable(),
			error: z
				.enum(ATTEMPT_ERRORS)
				.nullable()
				.describe("Why an attempt got no HTTP status, in a fixed word; never the receiver's own error text."),
			latency_ms: z.int(),
			attempted_at: z.iso.datetime(),
		}),
	),
	next_attempt_at: z.iso.datetime().nullable(),
	created_at: z.iso.datetime(),
});
