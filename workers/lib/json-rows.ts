/**
 * Many rows travel to D1 as one JSON parameter read with json_each(?): one bound parameter
 * per statement, and this many rows keeps it well under D1's value size cap.
 */
export const ROWS_PER_STATEMENT = 1_000;

/** One statement per chunk of rows; `statement` gets the chunk as a JSON array string. */
export function statementsForRows<T>(
	rows: readonly T[],
	statement: (json: string) => D1PreparedStatement,
): D1PreparedStatement[] {
	const statements: D1PreparedStatement[] = [];
	for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
		statements.push(statement(JSON.stringify(rows.slice(start, start + ROWS_PER_STATEMENT))));
	}
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
