import type { z } from "zod";
import { csvChunks } from "../http/csv";
import { ApiError, type FieldErrors, invalidFields } from "../http/errors";
import { MAX_ATTRIBUTES } from "./attributes";
import { fieldwise } from "./field-check";
import { type CheckedRow, checkRow, type ImportPlan, type RowOutcome } from "./import-plan";
import { type Cell, type PositionalChunk, PositionalChunks } from "./json-rows";
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
	/** One insert of a chunk of new rows (what `stored` made of them). */
	insert(chunk: PositionalChunk): D1PreparedStatement;
	/** A new row as its insert reads it: its columns by position. */
	stored: (row: T, id: string) => Cell[];
}

/** A CSV row's outcome: a JSON row's, plus the file line the record starts on. */
export type CsvRowOutcome = RowOutcome & { line: number };

/** A planned CSV import: its rows' outcomes, its inserts, and each insert's row count (`sizes`, for settleImport). */
export interface CsvImport {
	plan: ImportPlan<{ phone: string }>;
	statements: D1PreparedStatement[];
	sizes: number[];
}

/**
 * Plans a CSV import as the body streams in, a chunk of records at a time: each record is
 * checked against the JSON schema, planned against what earlier records create, and its new
 * row added to the inserts' JSON at once, so the parsed records of only one chunk are alive at
 * a time. What stays for the whole file is compact: one outcome per row, the phone → id map
 * of the file's phones, and the inserts' JSON. Nothing is read or written here: the caller
 * commits every statement in one batch (one transaction), so a file that turns out malformed
 * halfway, or invalid under `atomic`, stores nothing; a phone the target already has is
 * skipped by the insert (ON CONFLICT DO NOTHING) and settled afterwards, as a concurrent
 * import's is (settleImport). New rows get ascending ids (orderedIds).
 */
export async function planCsvImport<T extends { phone: string }>(
	stream: ReadableStream<Uint8Array>,
	target: CsvImportTarget<T>,
	options: { region: string; atomic: boolean },
): Promise<CsvImport> {
	const plan: ImportPlan<{ phone: string }> = { rows: [], creates: [] };
	const inserts = new PositionalChunks(target.insert);
	const seen = new Map<string, string>();
	const nextId = orderedIds();
	const check = recordCheck(target.schema, options.region);
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
		for (const { row, line, fields } of piece.records) {
			const checked = check(fields, width, toRaw);
			if ("errors" in checked) {
				invalidRows++;
				if (!options.atomic) plan.rows.push({ row, line, result: "invalid", errors: checked.errors } as CsvRowOutcome);
				else if (invalidRows <= MAX_LISTED_INVALID_ROWS) {
					for (const [name, messages] of Object.entries(checked.errors))
						atomicErrors[`${target.field}.${row}.${name}`] = messages;
				}
				continue;
			}
			// An atomic import already refused still reads on, to count and to find a malformed file.
			if (options.atomic && invalidRows) continue;
			const { phone } = checked.value;
			const already = seen.get(phone);
			if (already !== undefined) {
				plan.rows.push({ row, line, result: "duplicate", id: already, phone } as CsvRowOutcome);
				continue;
			}
			const id = nextId();
			seen.set(phone, id);
			inserts.add(target.stored(checked.value, id));
			plan.creates.push({ id, phone });
			plan.rows.push({ row, line, result: "created", id, phone } as CsvRowOutcome);
		}
	}
	if (!toRaw) throw new ApiError(400, "CSV body is empty: a header row naming the columns must come first.");
	if (options.atomic && invalidRows) {
		const listed = invalidRows > MAX_LISTED_INVALID_ROWS ? ` (the first ${MAX_LISTED_INVALID_ROWS} listed)` : "";
		throw invalidFields(atomicErrors, `The given data was invalid: ${invalidRows} invalid rows${listed}; nothing was imported.`);
	}
	if (plan.rows.length === 0) throw invalidFields({ rows: ["The CSV has a header but no rows."] });
	return { plan, ...inserts.done() };
}

/** One record's check: its field count against the header's, then the JSON row's (checkRow). */
function recordCheck<T extends { phone: string }>(schema: z.ZodObject & z.ZodType<T>, region: string) {
	const quick = fieldwise(schema) as (raw: Record<string, unknown>) => T | undefined;
	return (fields: string[], width: number, toRaw: (fields: string[]) => Record<string, unknown>): CheckedRow<T> => {
		if (fields.length !== width) {
			return { errors: { row: [`Expected ${width} fields (as many as the header has), got ${fields.length}.`] } };
		}
		return checkRow(toRaw(fields), region, schema as z.ZodType<T> & z.ZodType<{ phone: string }>, quick);
	};
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
	if (plan.filter((column) => column.attribute !== undefined).length > MAX_ATTRIBUTES) {
		errors.columns = [`At most ${MAX_ATTRIBUTES} attribute columns.`];
	}
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
