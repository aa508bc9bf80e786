import { z } from "zod";
import { EVENT_TYPES, isValidSubscription } from "./catalog";

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Production takes https only; local development may also post to a receiver on this machine. */
export function webhookUrlProblem(raw: string, environment: string): string | null {
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		return "Not a URL.";
	}
	if (url.username || url.password) return "Credentials in the URL are not allowed.";
	if (url.protocol === "https:") return null;
	if (url.protocol === "http:" && environment !== "production" && LOCAL_HOSTS.has(url.hostname)) return null;
	return environment === "production"
		? "Must be an https URL."
		: "Must be https (or http://127.0.0.1 / localhost in development).";
}

const Subscriptions = z
	.array(
		z.string().refine(isValidSubscription, { message: `Unknown event. One of ${EVENT_TYPES.join(", ")}, "<prefix>.*" or "*".` }),
	)
	.min(1)
	.max(50);

export const EndpointBody = z.strictObject({
	url: z.string().max(2000),
	events: Subscriptions,
	description: z.string().max(500).default(""),
});

export const EndpointPatch = z
	.strictObject({ url: z.string().max(2000), events: Subscriptions, description: z.string().max(500), enabled: z.boolean() })
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
			error: z.string().nullable(),
			latency_ms: z.int(),
			attempted_at: z.iso.datetime(),
		}),
	),
	next_attempt_at: z.iso.datetime().nullable(),
	created_at: z.iso.datetime(),
});
