import type { FieldErrors } from "../http/errors";
import { invalidPhoneMessage, toE164 } from "../lib/phone";

/** One row of a do-not-call POST once read: its number in E.164, or why it is none. */
export type CheckedPhone = { phone: string } | { errors: FieldErrors };

export type DncRow =
	| { row: number; result: "added" | "duplicate"; phone: string }
	| { row: number; result: "invalid"; errors: FieldErrors };

export function checkPhone(raw: unknown, region: string): CheckedPhone {
	if (typeof raw !== "string") return { errors: { phone: ["Expected a string."] } };
	const phone = raw.length <= 64 ? toE164(raw, region) : null;
	return phone ? { phone } : { errors: { phone: [invalidPhoneMessage(region)] } };
}

/** The distinct valid numbers, in row order: what the list is asked to take. */
export const distinctPhones = (checked: readonly CheckedPhone[]) => [
	...new Set(checked.flatMap((check) => ("phone" in check ? [check.phone] : []))),
];

/**
 * The per-row report: a number the list took in this request is `added` on its first row,
 * one it had already (or a repeat of an earlier row) is a `duplicate`.
 */
export function dncReport(checked: readonly CheckedPhone[], added: ReadonlySet<string>) {
	const reported = new Set<string>();
	const rows: DncRow[] = checked.map((check, row) => {
		if ("errors" in check) return { row, result: "invalid", errors: check.errors };
		const first = !reported.has(check.phone);
		reported.add(check.phone);
		return { row, result: first && added.has(check.phone) ? "added" : "duplicate", phone: check.phone };
	});
	const count = (result: DncRow["result"]) => rows.filter((row) => row.result === result).length;
	return { total: rows.length, added: count("added"), duplicates: count("duplicate"), invalid: count("invalid"), rows };
}

/** 422 field errors naming every invalid row, for an atomic request. */
export function invalidRows(checked: readonly CheckedPhone[]): FieldErrors {
	const errors: FieldErrors = {};
	checked.forEach((check, row) => {
		if ("errors" in check) for (const messages of Object.values(check.errors)) errors[`phones.${row}`] = messages;
	});
	return errors;
}
