import type { z } from "zod";
import { type CsvRecord, csvChunks } from "../http/csv";
import { ApiError, type FieldErrors, invalidFields } from "../http/errors";
import { fieldwise } from "./field-check";
import { type CheckedRow, checkRow, type ImportPlan, type RowOutcome } from "./import-plan";
import { statementsForRows } from "./json-rows";
import { orderedIds } from "./ordered-ids";

/** Invalid rows an all-or-nothing CSV import lists in its 422 (it counts them all). */
export const MAX_LISTED_INVALID_ROWS = 1_000;

export interface CsvImportTarget<T extends { phone: string }> {
	/** The JSON rows' schema: each record becomes the object a JSON row would be, then this checks it. */
	schema: z.ZodObject & z.ZodType<T>;
	/** Name of the JSON body's array (`leads`, `contacts`): an atomic import's 422 names rows as it does. */
	field: string;
	/** Maps the header onto the schema's fields (a 422 naming any column it cannot take). */
	columns(header: string[]): (fields: string[]) => Record<string, unknown>;
	/** One insert of a chunk of new rows (a JSON array string of what `stored` made of them). */
	insert(json: string): D1PreparedStatement;
	/** A new row as its insert reads it: one JSON array, its columns by position. */
	stored(row: T & { id: string }): unknown[];
}

/** A CSV row's outcome: a JSON row's, plus the file line the record starts on. */
export type CsvRowOutcome = RowOutcome & { line: number };

/**
 * Plans a CSV import as the body streams in, a chunk of records at a time: each chunk is
 * checked against the JSON schema, planned against what earlier chunks create, and turned
 * into its insert statement at once, so the parsed rows of only one chunk are alive at a
 * time. What stays for the whole file is compact: one outcome per row, the phone → id map of
 * the file's phones, and the inserts' JSON. Nothing is read or written here: the caller
 * commits every statement in one batch (one transaction), so a file that turns out malformed
 * halfway, or invalid under `atomic`, stores nothing; a phone the target already has is
 * skipped by the insert (ON CONFLICT DO NOTHING) and settled afterwards, as a concurrent
 * import's is (settleRaces). New rows get ascending ids (orderedIds).
 */
export async function planCsvImport<T extends { phone: string }>(
	stream: ReadableStream<Uint8Array>,
	target: CsvImportTarget<T>,
	options: { region: string; atomic: boolean },
): Promise<{ plan: ImportPlan<{ phone: string }>; statements: D1PreparedStatement[] }> {
	const plan: ImportPlan<{ phone: string }> = { rows: [], creates: [] };
	const statements: D1PreparedStatement[] = [];
	const seen = new Map<string, string>();
	const nextId = orderedIds();
	const quick = fieldwise(target.schema);
	const atomicErrors: FieldErrors = {};
	let invalidRows = 0;
	let toRaw: ((fields: string[]) => Record<string, unknown>) | undefined;
	let width = 0;
	for await (const piece of csvChunks(stream)) {
		if ("header" in piece) {
			toRaw = target.columns(piece.header);
			width = piece.header.length;
			continue;
		}
		if (!toRaw) throw new ApiError(400, "CSV body is empty: a header row naming the columns must come first.");
		const checked = piece.records.map((record) =>
			checkRecord(record, width, toRaw as NonNullable<typeof toRaw>, target.schema, { ...options, quick }),
		);
		for (const [index, check] of checked.entries()) {
			if (!("errors" in check)) continue;
			invalidRows++;
			if (options.atomic && invalidRows <= MAX_LISTED_INVALID_ROWS) {
				const row = piece.records[index]?.row;
				for (const [name, messages] of Object.entries(check.errors)) atomicErrors[`${target.field}.${row}.${name}`] = messages;
			}
		}
		// An atomic import already refused still reads on, to count and to find a malformed file.
		if (options.atomic && invalidRows) continue;
		const creates: unknown[][] = [];
		checked.forEach((check, index) => {
			const { row, line } = piece.records[index] as CsvRecord;
			if ("errors" in check) {
				plan.rows.push({ row, line, result: "invalid", errors: check.errors } as CsvRowOutcome);
				return;
			}
			const { phone } = check.value;
			const already = seen.get(phone);
			if (already !== undefined) {
				plan.rows.push({ row, line, result: "duplicate", id: already, phone } as CsvRowOutcome);
				return;
			}
			const id = nextId();
			seen.set(phone, id);
			creates.push(target.stored({ ...check.value, id }));
			plan.creates.push({ id, phone });
			plan.rows.push({ row, line, result: "created", id, phone } as CsvRowOutcome);
		});
		statements.push(...statementsForRows(creates, target.insert));
	}
	if (!toRaw) throw new ApiError(400, "CSV body is empty: a header row naming the columns must come first.");
	if (options.atomic && invalidRows) {
		const listed = invalidRows > MAX_LISTED_INVALID_ROWS ? ` (the first ${MAX_LISTED_INVALID_ROWS} listed)` : "";
		throw invalidFields(atomicErrors, `The given data was invalid: ${invalidRows} invalid rows${listed}; nothing was imported.`);
	}
	if (plan.rows.length === 0) throw invalidFields({ rows: ["The CSV has a header but no rows."] });
	return { plan, statements };
}

function checkRecord<T extends { phone: string }>(
	record: CsvRecord,
	width: number,
	toRaw: (fields: string[]) => Record<string, unknown>,
	schema: z.ZodType<T>,
	options: { region: string; quick: (raw: Record<string, unknown>) => unknown },
): CheckedRow<T> {
	if (record.fields.length !== width) {
		return { errors: { row: [`Expected ${width} fields (as many as the header has), got ${record.fields.length}.`] } };
	}
	return checkRow(
		toRaw(record.fields),
		options.region,
		schema as z.ZodType<T> & z.ZodType<{ phone: string }>,
		options.quick as (raw: Record<string, unknown>) => T | undefined,
	);
}

/**
 * The header's columns, trimmed; a known field matches whatever its case. `attributes.<key>`
 * sets one attribute. Duplicate columns and (unless `extra` takes them) unknown ones are a
 * 422 naming them. Empty cells are absent (the field's default), except `phone`.
 */
export function mapColumns(
	header: string[],
	fields: readonly string[],
	extra?: (column: string) => string,
): (values: string[]) => Record<string, unknown> {
	const errors: FieldErrors = {};
	const plan: { index: number; field?: string; attribute?: string }[] = [];
	const taken = new Set<string>();
	header.forEach((raw, index) => {
		const column = raw.trim();
		const known = fields.find((field) => field === column.toLowerCase());
		const attribute = /^attributes\.(.+)$/i.exec(column)?.[1] ?? (known ? undefined : extra?.(column));
		const name = known ?? (attribute !== undefined ? `attributes.${attribute}` : undefined);
		if (!column) errors[`columns.${index}`] = ["A column needs a name."];
		else if (!name) errors[`columns.${column}`] = [`Unknown column; expected ${fields.join(", ")} or attributes.<name>.`];
		else if (taken.has(name)) errors[`columns.${column}`] = ["This column appears twice."];
		else {
			taken.add(name);
			plan.push({ index, ...(known ? { field: known } : { attribute }) });
		}
	});
	if (!taken.has("phone")) errors["columns.phone"] = ["The header must name a phone column."];
	if (Object.keys(errors).length) {
		const first = Object.entries(errors)[0] as [string, string[]];
		throw invalidFields(errors, `The CSV header is invalid: ${first[0]}: ${first[1][0]}`);
	}
	return (values) => {
		const raw: Record<string, unknown> = {};
		const attributes: Record<string, string> = {};
		for (const { index, field, attribute } of plan) {
			const value = values[index] ?? "";
			if (field === "phone") raw.phone = value;
			else if (value === "") continue;
			else if (field) raw[field] = value;
			else if (attribute !== undefined) attributes[attribute] = value;
		}
		if (Object.keys(attributes).length) raw.attributes = attributes;
		return raw;
	};
}
