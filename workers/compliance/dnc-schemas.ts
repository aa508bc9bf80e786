import { z } from "zod";
import { PageQuery } from "../http/pagination";

export const MAX_DNC_PHONES = 10_000;

export const DoNotCallBody = z
	.strictObject({
		phones: z
			.array(z.unknown())
			.min(1)
			.max(MAX_DNC_PHONES)
			.describe(
				"Numbers as people write them, read in the account's default region and stored in E.164. A row that is no valid number is reported as invalid; the others are listed.",
			),
		reason: z.string().trim().min(1).max(500).optional().describe("Kept with each number this request lists."),
		atomic: z.boolean().default(false).describe("true: any invalid row rejects the whole request (422) and lists nothing."),
	})
	.meta({ id: "DoNotCallBody" });

export const DoNotCallEntry = z
	.object({
		phone: z.string().describe("E.164"),
		reason: z.string().nullable(),
		source: z
			.enum(["api", "disposition"])
			.describe("`api`: this list's POST; `disposition`: a lead's `do_not_call` disposition."),
		created_at: z.iso.datetime(),
	})
	.meta({ id: "DoNotCallEntry" });

export const DoNotCallReport = z
	.object({
		total: z.int(),
		added: z.int(),
		duplicates: z.int().describe("Rows whose number was listed already, or repeats an earlier row of the request."),
		invalid: z.int(),
		rows: z.array(
			z.object({
				row: z.int().describe("0-based index in `phones`"),
				result: z.enum(["added", "duplicate", "invalid"]),
				phone: z.string().optional().describe("E.164, for added and duplicate rows"),
				errors: z.record(z.string(), z.array(z.string())).optional(),
			}),
		),
	})
	.meta({ id: "DoNotCallReport" });

export const DoNotCallListQuery = PageQuery.extend({
	phone: z
		.string()
		.min(1)
		.max(64)
		.optional()
		.describe("One number in any format the account's region reads: the page holds its entry, or nothing."),
});
