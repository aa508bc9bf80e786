import type { z } from "zod";
import type { FieldErrors } from "../http/errors";
import { invalidPhoneMessage, toE164 } from "../lib/phone";
import { LeadBody } from "./schemas";

export type LeadInput = z.infer<typeof LeadBody>;

export type RowOutcome =
	| { row: number; result: "created"; id: string; phone: string }
	| { row: number; result: "duplicate"; id?: string; phone: string }
	| { row: number; result: "invalid"; errors: FieldErrors };

export interface ImportPlan {
	rows: RowOutcome[];
	/** Leads to insert, in row order. */
	creates: (LeadInput & { id: string })[];
}

/** Validates one row; its phone comes back in E.164. */
export function checkRow(raw: unknown, region: string): { lead: LeadInput } | { errors: FieldErrors } {
	const parsed = LeadBody.safeParse(raw);
	if (!parsed.success) {
		const errors: FieldErrors = {};
		for (const issue of parsed.error.issues) {
			const key = issue.path.map(String).join(".") || "row";
			errors[key] = [...(errors[key] ?? []), issue.message];
		}
		return { errors };
	}
	const phone = toE164(parsed.data.phone, region);
	if (!phone) return { errors: { phone: [invalidPhoneMessage(region)] } };
	return { lead: { ...parsed.data, phone } };
}

/**
 * Decides every row of an import: invalid rows are reported with their errors, a phone the
 * campaign already has (or an earlier row of this import has) is a duplicate, the rest are
 * created. Pure: `existing` is the campaign's phone → lead id for the phones in the file.
 */
export function planImport(
	checked: ReturnType<typeof checkRow>[],
	existing: ReadonlyMap<string, string>,
	newId: () => string = () => crypto.randomUUID(),
): ImportPlan {
	const seen = new Map(existing);
	const plan: ImportPlan = { rows: [], creates: [] };
	checked.forEach((check, row) => {
		if ("errors" in check) {
			plan.rows.push({ row, result: "invalid", errors: check.errors });
			return;
		}
		const { phone } = check.lead;
		const already = seen.get(phone);
		if (already !== undefined) {
			plan.rows.push({ row, result: "duplicate", id: already, phone });
			return;
		}
		const id = newId();
		seen.set(phone, id);
		plan.creates.push({ ...check.lead, id });
		plan.rows.push({ row, result: "created", id, phone });
	});
	return plan;
}

export function summarise(plan: ImportPlan) {
	const count = (result: RowOutcome["result"]) => plan.rows.filter((row) => row.result === result).length;
	return {
		total: plan.rows.length,
		created: count("created"),
		duplicates: count("duplicate"),
		invalid: count("invalid"),
		rows: plan.rows,
	};
}
