import { z } from "zod";

/**
 * Where the carrier asks for instructions when a campaign call is answered. The schema bounds
 * the text; whether the URL may be used depends on the deployment (see `requireAgentAnswerUrl`).
 */
export const AgentAnswerUrl = z
	.string()
	.max(2000)
	.describe(
		"The account's agent platform: asked for call instructions (with the campaign's agent_id and the call id) when a campaign call is answered. An absolute https URL; in production a public host name on the default port, as for webhook endpoints; http only to 127.0.0.1 / localhost in development. Null: none.",
	);

export const AccountName = z.string().trim().min(1).max(200);

/** The caller's own account: what it may see of what the platform admin set, and what it sets itself. */
export const AccountSettings = z
	.object({
		id: z.uuid(),
		name: z.string(),
		default_region: z.string().describe("Set by the platform admin: the region phone numbers are read in."),
		agent_answer_url: z.string().nullable(),
		max_connections: z.int().describe("Set by the platform admin: requests in flight per token."),
		effective_rate_limits: z.record(z.string(), z.int()).describe("Requests per minute per token, by endpoint group."),
		created_at: z.iso.datetime(),
		updated_at: z.iso.datetime(),
	})
	.meta({ id: "AccountSettings" });

/**
 * What an owner may change. GET's representation may come back whole: `id` must be this
 * account's, and what the platform admin sets must be sent as it is (a different value would
 * look like a change that never happens); timestamps and the computed limits are ignored.
 */
export const AccountSettingsPatch = z
	.strictObject({
		name: AccountName,
		agent_answer_url: AgentAnswerUrl.nullable(),
		id: z.uuid().describe("Read-only: may be sent back as GET returned it; another id is a 422."),
		default_region: z.string().max(8).describe("Read-only (set by the platform admin): another value is a 422."),
		max_connections: z.int().describe("Read-only (set by the platform admin): another value is a 422."),
		effective_rate_limits: z.record(z.string(), z.int()).describe("Read-only: ignored."),
		created_at: z.iso.datetime().describe("Read-only: ignored."),
		updated_at: z.iso.datetime().describe("Read-only: ignored."),
	})
	.partial()
	.meta({ id: "AccountSettingsPatch" });
