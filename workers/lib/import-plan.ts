import type { z } from "zod";
import type { FieldErrors } from "../http/errors";
import { invalidPhoneMessage, toE164 } from "./phone";

/** Any importable row: leads, contacts. Its phone is normalised to E.164. */
type PhoneRow = { phone: string };

export type RowOutcome =
	| { row: number; result: "created"; id: string; phone: string }
	| { row: number; result: "duplicate"; id?: string; phone: string }
	| { row: number; result: "invalid"; errors: FieldErrors };

export interface ImportPlan<T extends PhoneRow> {
	rows: RowOutcome[];
	/** Rows to insert, in row order. */
	creates: (T & { id: string })[];
}

export type CheckedRow<T> = { value: T } | { errors: FieldErrors };

/**
 * Validates one row against `schema`; its phone comes back in E.164. `quick` (fieldwise) may
 * answer for a row that passes; the whole schema decides the rest.
 */
export function checkRow<S extends z.ZodType<PhoneRow>>(
	raw: unknown,
	region: string,
	schema: S,
	quick?: (raw: Record<string, unknown>) => z.infer<S> | undefined,
): CheckedRow<z.infer<S>> {
	const passed = quick && typeof raw === "object" && raw !== null ? quick(raw as Record<string, unknown>) : undefined;
	const parsed = passed ? { success: true as const, data: passed } : schema.safeParse(raw);
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
	// parsed.data is a new object (zod's, or quick's): set in place, not copied (100,000 rows add up).
	parsed.data.phone = phone;
	return { value: parsed.data };
}

/**
 * Decides every row of an import: invalid rows are reported with their errors, a phone the
 * target already has (or an earlier row of this import has) is a duplicate, the rest are
 * created. Pure: `existing` maps the target's phones (among those in the file) to their ids.
 */
export function planImport<T extends PhoneRow>(
	checked: CheckedRow<T>[],
	existing: ReadonlyMap<string, string>,
	newId: () => string = () => crypto.randomUUID(),
): ImportPlan<T> {
	const seen = new Map(existing);
	const plan: ImportPlan<T> = { rows: [], creates: [] };
	checked.forEach((check, row) => {
		if ("errors" in check) {
			plan.rows.push({ row, result: "invalid", errors: check.errors });
			return;
		}
		const { phone } = check.value;
		const already = seen.get(phone);
		if (already !== undefined) {
			plan.rows.push({ row, result: "duplicate", id: already, phone });
			return;
		}
		const id = newId();
		seen.set(phone, id);
		plan.creates.push({ ...check.value, id });
		plan.rows.push({ row, result: "created", id, phone });
	});
	return plan;
}

export function summarise<T extends PhoneRow>(plan: ImportPlan<T>) {
	const count = (result: RowOutcome["result"]) => plan.rows.filter((row) => row.result === result).length;
	return {
		total: plan.rows.length,
		created: count("created"),
		duplicates: count("duplicate"),
		invalid: count("invalid"),
		rows: plan.rows,
	};
}

/** 422 naming every bad row's fields, for imports that must be all-or-nothing. */
export function invalidRowErrors<T>(checked: CheckedRow<T>[], field: string): FieldErrors {
	const errors: FieldErrors = {};
	checked.forEach((check, row) => {
		if ("errors" in check)
			for (const [name, messages] of Object.entries(check.errors)) errors[`${field}.${row}.${name}`] = messages;
	});
	return errors;
}

/**
 * The planned creates whose insert is not confirmed by the batch's counts: the rows of every
 * statement that changed another number of rows (`changes`, fewer when a phone was taken)
 * than it carried (`sizes`, in the order of `creates`). Usually none: the common case needs
 * no rows back from D1 (no RETURNING).
 */
export function unconfirmedCreates<T>(creates: readonly T[], sizes: readonly number[], changes: readonly number[]): T[] {
	const unconfirmed: T[] = [];
	let start = 0;
	sizes.forEach((size, statement) => {
		if (changes[statement] !== size) unconfirmed.push(...creates.slice(start, start + size));
		start += size;
	});
	return unconfirmed;
}

/**
 * Which of `candidates` did not go in: those whose phone is held by another row than the one
 * planned (`holders`: phone → id of the row holding it, read after the batch). A planned id
 * holding its phone was inserted by this batch: the ids are this import's own.
 */
export function lostCreates(
	candidates: readonly { id: string; phone: string }[],
	holders: ReadonlyMap<string, string>,
): Set<string> {
	return new Set(candidates.filter((create) => holders.get(create.phone) !== create.id).map((create) => create.id));
}

/**
 * The plan as it turned out: a planned create in `lost` lost its phone to a concurrent import
 * (or to a row the target had already), so it (and any later row of this import repeating that
 * phone) is a duplicate of the winner's row. Every phone is thus reported created exactly once.
 */
export function settleRaces<T extends { phone: string }>(
	plan: ImportPlan<T>,
	lost: ReadonlySet<string>,
	winners: ReadonlyMap<string, string>,
): ImportPlan<T> {
	if (lost.size === 0) return plan;
	return {
		creates: plan.creates.filter((create) => !lost.has(create.id)),
		rows: plan.rows.map((row) =>
			row.result !== "invalid" && row.id !== undefined && lost.has(row.id)
				? { ...row, result: "duplicate", id: winners.get(row.phone), phone: row.phone }
				: row,
		),
	};
}
