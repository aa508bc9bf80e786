import { isSupportedCountry } from "libphonenumber-js/max";
import { z } from "zod";
import { AgentAnswerUrl } from "../account/schemas";
import { RATE_LIMIT_GROUPS, type RateLimitGroup } from "../guard/rate-limit-groups";

const groups = Object.keys(RATE_LIMIT_GROUPS) as [RateLimitGroup, ...RateLimitGroup[]];

export const Region = z
	.string()
	.transform((value) => value.toUpperCase())
	.refine((value) => isSupportedCountry(value), {
		message: "Must be an ISO 3166-1 alpha-2 region with a phone numbering plan, e.g. VN.",
	});

const PerMinute = z.int().min(1).max(100_000);

/** Overrides per group; in a PATCH, `null` drops a group's override back to the default. */
export const RateLimitsInput = z.partialRecord(z.enum(groups), PerMinute);
export const RateLimitsPatch = z.partialRecord(z.enum(groups), PerMinute.nullable());

export const CreateAccountBody = z.strictObject({
	name: z.string().trim().min(1).max(200),
	username: z
		.string()
		.min(3)
		.max(100)
		.regex(/^[A-Za-z0-9._@-]+$/, "Letters, digits and . _ @ - only."),
	password: z.string().min(10).max(200),
	default_region: Region.default("US"),
	rate_limits: RateLimitsInput.default({}),
	max_connections: z.int().min(1).max(10_000).default(20),
	agent_answer_url: AgentAnswerUrl.nullable().default(null),
});

export const UpdateAccountBody = z
	.strictObject({
		name: z.string().trim().min(1).max(200),
		default_region: Region,
		rate_limits: RateLimitsPatch,
		max_connections: z.int().min(1).max(10_000),
		agent_answer_url: AgentAnswerUrl.nullable(),
	})
	.partial();

export const Account = z.object({
	id: z.uuid(),
	name: z.string(),
	default_region: z.string(),
	rate_limits: z.record(z.string(), z.number()),
	effective_rate_limits: z.record(z.string(), z.number()),
	max_connections: z.number(),
	agent_answer_url: z.string().nullable(),
	created_at: z.iso.datetime(),
	updated_at: z.iso.datetime(),
});

export const CreatedAccount = Account.extend({ owner: z.object({ id: z.uuid(), username: z.string() }) });
