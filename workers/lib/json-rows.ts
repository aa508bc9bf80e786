/**
 * Many rows travel to D1 as one JSON parameter read with json_each(?): one bound parameter per
 * statement, whatever the row count (D1 allows 100). D1 caps one string value at 2,000,000
 * bytes; a chunk's JSON is kept under this many UTF-16 code units, which is under 1.8 MB of
 * UTF-8 whatever the text (a code unit is at most 3 bytes of it), so rows with long notes
 * make smaller chunks instead of a statement D1 refuses.
 */
export const MAX_JSON_CHARS = 600_000;

/**
 * Rows per statement when they are small. A 100,000-row import in 1,000-row statements spent
 * about 0.1 s more of workerd's CPU than in 5,000-row ones; 20,000 measured the same as 5,000.
 */
export const MAX_ROWS_PER_STATEMENT = 5_000;

/** One statement per chunk of rows; `statement` gets the chunk as a JSON array string. */
export function statementsForRows<T>(
	rows: readonly T[],
	statement: (json: string) => D1PreparedStatement,
): D1PreparedStatement[] {
	const statements: D1PreparedStatement[] = [];
	let parts: string[] = [];
	let chars = 1;
	const flush = () => {
		if (parts.length) statements.push(statement(`[${parts.join(",")}]`));
		parts = [];
		chars = 1;
	};
	for (const row of rows) {
		const json = JSON.stringify(row);
		if (parts.length && (chars + json.length + 1 > MAX_JSON_CHARS || parts.length >= MAX_ROWS_PER_STATEMENT)) flush();
		parts.push(json);
		chars += json.length + 1;
	}
	flush();
	return statements;
}

/** `statement` over `values` a chunk at a time, every chunk in one batch (one round trip): all their rows. */
export async function selectInChunks<R>(
	db: D1Database,
	values: readonly string[],
	statement: (json: string) => D1PreparedStatement,
): Promise<R[]> {
	if (values.length === 0) return [];
	const results = await db.batch<R>(statementsForRows(values, statement));
	return results.flatMap((result) => result.results);
}

/** A stored column's value in a positional row. */
export type Cell = string | null;

/**
 * A chunk of positional rows (arrays, a table's columns by position) for one insert. A column
 * every row of the chunk has the same value in (a CSV without a `status` column: every lead's
 * is `new`) travels once, as a bound parameter, instead of in each row, and SQLite reads it
 * once instead of extracting it from each row's JSON: an insert of 100,000 leads with 4 of
 * their 8 columns shared took a fifth less of SQLite's time (node:sqlite), and its JSON a
 * fifth less to send.
 */
export interface PositionalChunk {
	/** The rows, each the array of its columns that vary within the chunk. */
	json: string;
	/** Per stored column: its index in each row's array, or the value the whole chunk shares. */
	columns: ({ at: number } | { shared: Cell })[];
	/** Rows in the chunk. */
	size: number;
}

/**
 * The SELECT list reading a chunk (json_each over `json` as `value`): one SQL expression per
 * stored column, in order, and the values to bind for the shared ones, numbered from `firstParam`.
 */
export function columnsOf(chunk: PositionalChunk, firstParam: number): { expressions: string[]; binds: Cell[] } {
	const binds: Cell[] = [];
	const expressions = chunk.columns.map((column) => {
		if ("at" in column) return `value ->> ${column.at}`;
		binds.push(column.shared);
		return `?${firstParam + binds.length - 1}`;
	});
	return { expressions, binds };
}

/**
 * Cuts positional rows, as they come, into insert statements of at most MAX_ROWS_PER_STATEMENT
 * rows and MAX_JSON_CHARS of JSON. `sizes[i]` is the row count of `statements[i]`, rows kept in
 * the order added: a caller compares it with what the statement changed. A single row longer
 * than the cap still gets a statement of its own.
 */
export class PositionalChunks {
	readonly statements: D1PreparedStatement[] = [];
	readonly sizes: number[] = [];
	#rows: Cell[][] = [];
	// Counted without JSON's escapes (a lower bound of the text's size); encode() halves a chunk
	// whose escaped text turns out over the cap.
	#chars = 1;

	constructor(
		private readonly statement: (chunk: PositionalChunk) => D1PreparedStatement,
		private readonly limits = { chars: MAX_JSON_CHARS, rows: MAX_ROWS_PER_STATEMENT },
	) {}

	add(row: Cell[]): void {
		let chars = 2 + row.length;
		for (const cell of row) chars += cell === null ? 4 : cell.length + 2;
		if (this.#rows.length && (this.#chars + chars > this.limits.chars || this.#rows.length >= this.limits.rows)) this.flush();
		this.#rows.push(row);
		this.#chars += chars;
	}

	/** Ends the current chunk; more rows may follow. */
	flush(): void {
		for (const chunk of encode(this.#rows, this.limits.chars)) {
			this.statements.push(this.statement(chunk));
			this.sizes.push(chunk.size);
		}
		this.#rows = [];
		this.#chars = 1;
	}

	/** Every statement, the last chunk flushed. */
	done(): { statements: D1PreparedStatement[]; sizes: number[] } {
		this.flush();
		return { statements: this.statements, sizes: this.sizes };
	}
}

/** Rows as chunks: the columns they all share hoisted out, halved until each chunk's JSON fits in `maxChars`. */
export function encode(rows: readonly Cell[][], maxChars: number): PositionalChunk[] {
	const first = rows[0];
	if (!first) return [];
	const columns: PositionalChunk["columns"] = [];
	const varying: number[] = [];
	first.forEach((value, column) => {
		if (rows.every((row) => row[column] === value)) columns.push({ shared: value });
		else columns.push({ at: varying.push(column) - 1 });
	});
	const json = JSON.stringify(rows.map((row) => varying.map((column) => row[column] ?? null)));
	if (json.length <= maxChars || rows.length === 1) return [{ json, columns, size: rows.length }];
	const half = Math.ceil(rows.length / 2);
	return [...encode(rows.slice(0, half), maxChars), ...encode(rows.slice(half), maxChars)];
}
