import type { components } from "./generated/openapi.js";

export type ImportReport = components["schemas"]["ImportReport"];
type ServerBulkResult = components["schemas"]["LeadBulkResult"];
/**
 * Per-item results of bulk PATCH / DELETE, as the server reports them, plus one the client
 * adds: `deleted_or_missing` is a lead a repeated DELETE chunk (an earlier attempt got no
 * answer or a 5xx) found missing — that attempt may have deleted it, or it never existed;
 * either way it is gone.
 */
export type BulkResult = {
	results: { id: string; result: ServerBulkResult["results"][number]["result"] | "deleted_or_missing" }[];
};

/** The server's limits for one bulk request. */
export const LIMITS = {
	/** JSON imports: rows, and the body's bytes. */
	importRows: 10_000,
	importBytes: 8 * 1024 * 1024,
	/** text/csv imports: data records, and bytes. */
	csvRows: 100_000,
	csvBytes: 32 * 1024 * 1024,
	/** PATCH / DELETE /api/telesales/leads/bulk: items, and the body's bytes. */
	bulkItems: 1_000,
	bulkBytes: 2 * 1024 * 1024,
} as const;

/** Room left in a body for what wraps the items (`{"leads":[…],"atomic":false}`). */
const ENVELOPE_BYTES = 1024;

const encoder = new TextEncoder();
const jsonBytes = (value: unknown) => encoder.encode(JSON.stringify(value)).length;

/**
 * Splits `items` into runs of at most `maxCount` whose JSON array stays under `maxBytes`, in
 * order. One item too large for a body on its own is a chunk by itself (the server's 413 then
 * names it).
 */
export function chunkItems<T>(items: readonly T[], maxCount: number, maxBytes: number): T[][] {
	const chunks: T[][] = [];
	let current: T[] = [];
	let bytes = ENVELOPE_BYTES;
	for (const item of items) {
		const size = jsonBytes(item) + 1;
		if (current.length > 0 && (current.length >= maxCount || bytes + size > maxBytes)) {
			chunks.push(current);
			current = [];
			bytes = ENVELOPE_BYTES;
		}
		current.push(item);
		bytes += size;
	}
	if (current.length > 0) chunks.push(current);
	return chunks;
}

/** A chunk's report, and where its rows start in the whole input. */
export interface ChunkReport {
	report: ImportReport;
	/** Index of the chunk's first row in the whole input. */
	firstRow: number;
	/** For CSV: the file line of the whole input that is the chunk's line `chunkFirstLine`. */
	lineOffset?: number;
}

/** One report for the whole input: counts summed, rows renumbered to the input's rows (and lines). */
export function mergeImportReports(parts: readonly ChunkReport[]): ImportReport {
	const merged: ImportReport = { total: 0, created: 0, duplicates: 0, invalid: 0, rows: [] };
	for (const { report, firstRow, lineOffset } of parts) {
		merged.total += report.total;
		merged.created += report.created;
		merged.duplicates += report.duplicates;
		merged.invalid += report.invalid;
		for (const row of report.rows) {
			merged.rows.push({
				...row,
				row: row.row + firstRow,
				...(row.line === undefined || lineOffset === undefined ? {} : { line: row.line + lineOffset }),
			});
		}
	}
	return merged;
}

/** A repeated DELETE chunk's results: its `not_found` may be the lost attempt's own deletions. */
export const markRepeatedDeletes = (part: BulkResult): BulkResult => ({
	results: part.results.map((item) => (item.result === "not_found" ? { ...item, result: "deleted_or_missing" } : item)),
});

/** Per-item results of several bulk requests, in input order. */
export const mergeBulkResults = (parts: readonly BulkResult[]): BulkResult => ({
	results: parts.flatMap((part) => part.results),
});

/** A piece of a CSV input sent as one import: the header, then some of its records. */
export interface CsvChunk {
	text: string;
	/** Index of the chunk's first record among the input's records. */
	firstRow: number;
	/** Add to a line the server reports for this chunk to get the input's line. */
	lineOffset: number;
}

/**
 * Splits CSV text into imports of at most `maxRecords` records and `maxBytes` bytes, each with
 * the header row first. Records end at a line break outside quotes (RFC 4180: a quoted field
 * may hold line breaks and "" for a quote); blank lines go with the record before them, as the
 * server skips them. Line numbers stay mappable: a chunk's line n is the input's n + lineOffset.
 */
export function splitCsv(text: string, maxRecords: number = LIMITS.csvRows, maxBytes: number = LIMITS.csvBytes): CsvChunk[] {
	const source = text.startsWith("\uFEFF") ? text.slice(1) : text;
	const records = csvRecords(source);
	while (records[0] && !records[0].data) records.shift();
	const header = records.shift();
	if (!header) return [];
	const headerText = source.slice(header.start, header.end);
	const headerLines = header.lines;
	const chunks: CsvChunk[] = [];
	let first = 0;
	while (first < records.length) {
		let last = first;
		let data = 0;
		let bytes = encoder.encode(headerText).length;
		while (last < records.length) {
			const record = records[last] as CsvRecord;
			if (record.data && data >= maxRecords) break;
			const size = encoder.encode(source.slice(record.start, record.end)).length;
			if (last > first && bytes + size > maxBytes) break;
			bytes += size;
			if (record.data) data++;
			last++;
		}
		const start = (records[first] as CsvRecord).start;
		const end = (records[last - 1] as CsvRecord).end;
		const body = source.slice(start, end);
		chunks.push({
			text: headerText + body,
			firstRow: countDataRecords(records, 0, first),
			lineOffset: (records[first] as CsvRecord).line - (headerLines + 1),
		});
		first = last;
	}
	return chunks.filter((chunk) => /[^\r\n]/.test(chunk.text.slice(headerText.length)));
}

interface CsvRecord {
	/** Offsets in the text, the line break after the record (and blank lines after it) included. */
	start: number;
	end: number;
	/** The 1-based line it starts on. */
	line: number;
	/** How many lines it spans, its line break included. */
	lines: number;
	/** False for blank lines, which the server skips and does not count as rows. */
	data: boolean;
}

function csvRecords(text: string): CsvRecord[] {
	const records: CsvRecord[] = [];
	let start = 0;
	let line = 1;
	let lines = 0;
	let quoted = false;
	for (let i = 0; i < text.length; i++) {
		const char = text[i];
		if (char === '"') quoted = !quoted;
		else if (!quoted && (char === "\n" || char === "\r")) {
			if (char === "\r" && text[i + 1] === "\n") i++;
			lines++;
			records.push({ start, end: i + 1, line, lines, data: /[^\r\n]/.test(text.slice(start, i + 1)) });
			line += lines;
			lines = 0;
			start = i + 1;
		} else if (quoted && char === "\n") lines++;
		else if (quoted && char === "\r" && text[i + 1] !== "\n") lines++;
	}
	if (start < text.length) records.push({ start, end: text.length, line, lines: lines + 1, data: true });
	return records;
}

const countDataRecords = (records: readonly CsvRecord[], from: number, to: number) =>
	records.slice(from, to).filter((record) => record.data).length;
