// csv-parse's browser build: the same parser engine as its Node and web-stream entries, with
// its own Buffer and stream shims, so it runs in workerd without nodejs_compat. It is fed
// decoded text piece by piece and read back record by record: nothing holds the whole file.
import { Parser } from "csv-parse/browser/esm";
import { z } from "zod";
import { ApiError, invalidFields } from "./errors";

/** Data records (the header not counted) one CSV import may carry. JSON imports stop at 10,000. */
export const MAX_CSV_ROWS = 100_000;
/** A CSV body's byte cap (a 100,000-row file with every lead field is well under it). */
export const MAX_CSV_BYTES = 32 * 1024 * 1024;
/** Records handed on at a time: one D1 statement's worth of rows (json-rows.ts). */
export const CSV_CHUNK_ROWS = 1_000;

/** A CSV import's options (a JSON import's body fields), as query parameters; JSON requests ignore them. */
export const CsvImportQuery = z.object({
	atomic: z
		.enum(["true", "false"])
		.default("false")
		.describe("text/csv bodies only (JSON sends `atomic` in the body): any invalid row rejects the whole import."),
});

export interface CsvRecord {
	/** 0-based index among the data records (the header is not one), as a JSON row's index. */
	row: number;
	/** The line of the file the record starts on; the header's first line is 1. */
	line: number;
	fields: string[];
}

/** The body's media type, lower-cased, without parameters; undefined when none was sent. */
export function mediaTypeOf(request: Request): string | undefined {
	const type = request.headers.get("Content-Type")?.split(";")[0]?.trim().toLowerCase();
	return type || undefined;
}

/** `text/csv` must be UTF-8 (the default when no charset is named). */
export function checkCsvCharset(request: Request): void {
	const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers.get("Content-Type") ?? "")?.[1]?.toLowerCase();
	if (charset && charset !== "utf-8" && charset !== "utf8") {
		throw new ApiError(415, `CSV bodies must be UTF-8; charset=${charset} is not supported.`);
	}
}

export const csvTooLarge = () => new ApiError(413, `Request body is larger than ${MAX_CSV_BYTES} bytes.`);

/** Counts bytes as they pass, failing the stream past `maxBytes` (a 413). */
export function byteCap(maxBytes: number): TransformStream<Uint8Array, Uint8Array> {
	let size = 0;
	return new TransformStream({
		transform(chunk, controller) {
			size += chunk.byteLength;
			if (size > maxBytes) throw csvTooLarge();
			controller.enqueue(chunk);
		},
	});
}

/**
 * The parser's engine (`parser.api`): the call csv-parse's own web-stream entry makes per
 * chunk, synchronous, records handed to `push`. The browser build's Node-stream face is not
 * used: its process.nextTick shim keeps a module-wide queue drained by setTimeout, and a timer
 * that dies with one request leaves that queue stuck for every later request of the isolate.
 * The engine wants the bundle's own Buffer; its class is reached through a parsed option.
 */
interface CsvEngine {
	options: { quote: { constructor: { from(bytes: ArrayBufferLike, offset: number, length: number): unknown } } };
	parse(bytes: unknown, end: boolean, push: (item: unknown) => void, close: () => void): Error | undefined;
}

interface ParserInfo {
	empty_lines: number;
}

/**
 * The header, then the data records in chunks of `chunkRows`, parsed as the body streams in.
 * RFC 4180 with the usual leniencies: CRLF or LF, a UTF-8 BOM, blank lines skipped. A field
 * count other than the header's is left to the caller (a row's error, not the file's).
 * Malformed CSV (a quote never closed, a stray quote) is a 400; bytes that are not UTF-8 a
 * 400; more than `maxRows` records a 422; more than `maxBytes` a 413.
 */
export async function* csvChunks(
	stream: ReadableStream<Uint8Array>,
	options: { maxBytes?: number; maxRows?: number; chunkRows?: number } = {},
): AsyncGenerator<{ header: string[] } | { records: CsvRecord[] }> {
	const { maxBytes = MAX_CSV_BYTES, maxRows = MAX_CSV_ROWS, chunkRows = CSV_CHUNK_ROWS } = options;
	const engine = (
		new Parser({
			bom: true,
			relax_column_count: true,
			skip_empty_lines: true,
			info: true,
			record_delimiter: ["\r\n", "\n"],
		}) as unknown as { api: CsvEngine }
	).api;
	const BundledBuffer = engine.options.quote.constructor;
	let header: string[] | undefined;
	let pending: CsvRecord[] = [];
	let nextLine = 1;
	let lastEmpty = 0;
	let rows = 0;
	const push = (item: unknown) => {
		const { record, info } = item as { record: string[]; info: ParserInfo };
		// Counted here, not from info.lines (which counts a quoted CRLF twice): a record starts
		// after the previous one's lines and the blank lines skipped since.
		const line = nextLine + (info.empty_lines - lastEmpty);
		lastEmpty = info.empty_lines;
		nextLine = line + 1 + lineBreaks(record);
		if (!header) {
			header = record;
			return;
		}
		if (rows >= maxRows) throw invalidFields({ rows: [`At most ${maxRows} rows per CSV import; split the file.`] });
		pending.push({ row: rows++, line, fields: record });
	};
	const feed = (bytes: Uint8Array | undefined) => {
		const error = engine.parse(
			bytes && BundledBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
			bytes === undefined,
			push,
			() => {},
		);
		if (error) throw malformed(error);
	};
	// Decoded only to refuse bytes that are not UTF-8 (the engine decodes the fields itself).
	const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
	const reader = stream.pipeThrough(byteCap(maxBytes)).getReader();
	let headerSent = false;
	try {
		for (;;) {
			const next = await reader.read();
			if (next.done) break;
			try {
				utf8.decode(next.value, { stream: true });
			} catch {
				throw new ApiError(400, "CSV body is not valid UTF-8.");
			}
			feed(next.value);
			if (header && !headerSent) {
				headerSent = true;
				yield { header };
			}
			while (pending.length >= chunkRows) {
				yield { records: pending.slice(0, chunkRows) };
				pending = pending.slice(chunkRows);
			}
		}
		try {
			utf8.decode();
		} catch {
			throw new ApiError(400, "CSV body is not valid UTF-8.");
		}
		feed(undefined);
	} finally {
		reader.releaseLock();
	}
	if (!header) throw new ApiError(400, "CSV body is empty: a header row naming the columns must come first.");
	if (!headerSent) yield { header };
	if (pending.length) yield { records: pending };
}

function lineBreaks(fields: string[]): number {
	let breaks = 0;
	for (const field of fields) if (field.includes("\n") || field.includes("\r")) breaks += field.match(/\r\n|\r|\n/g)?.length ?? 0;
	return breaks;
}

function malformed(error: unknown): ApiError {
	const message = error instanceof Error ? error.message : String(error);
	return new ApiError(400, `Malformed CSV: ${message}`);
}
