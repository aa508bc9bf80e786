import { z } from "zod";
import { fromBase64Url, toBase64Url } from "../lib/crypto";
import { ApiError } from "./errors";

export const PageQuery = z.object({
	limit: z.coerce.number().int().min(1).max(100).default(50),
	cursor: z.string().max(500).optional(),
});
export type PageQuery = z.infer<typeof PageQuery>;

/** Keyset position: rows are ordered by (created_at, id), so pages never skip or repeat. */
interface Position {
	created_at: string;
	id: string;
}

export function encodeCursor(position: Position): string {
	return toBase64Url(new TextEncoder().encode(JSON.stringify([position.created_at, position.id])));
}

export function decodeCursor(cursor: string | undefined): Position | undefined {
	if (cursor === undefined) return undefined;
	try {
		const text = new TextDecoder().decode(fromBase64Url(cursor));
		const [created_at, id] = z.tuple([z.string(), z.string()]).parse(JSON.parse(text));
		return { created_at, id };
	} catch {
		throw new ApiError(400, "Invalid cursor.");
	}
}

/** Fetches `limit + 1` rows to know whether there is a next page. */
function page<T extends Position>(rows: T[], limit: number): { rows: T[]; next_cursor: string | null } {
	const more = rows.length > limit;
	const kept = more ? rows.slice(0, limit) : rows;
	const last = kept[kept.length - 1];
	return { rows: kept, next_cursor: more && last ? encodeCursor(last) : null };
}

/** SQL fragment and bindings that continue after the cursor. */
function afterCursor(cursor: string | undefined, alias = ""): { sql: string; binds: string[] } {
	const position = decodeCursor(cursor);
	if (!position) return { sql: "1 = 1", binds: [] };
	const column = (name: string) => (alias ? `${alias}.${name}` : name);
	return {
		sql: `(${column("created_at")} > ? OR (${column("created_at")} = ? AND ${column("id")} > ?))`,
		binds: [position.created_at, position.created_at, position.id],
	};
}

export const pageOf = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), next_cursor: z.string().nullable() });

/**
 * One page of `select` (a query ending in its WHERE conditions), in keyset order. `alias` is
 * the table alias that owns `created_at` and `id` when the query joins.
 */
export async function pageOfRows<T extends Position>(
	db: D1Database,
	select: string,
	binds: unknown[],
	query: PageQuery,
	alias = "",
): Promise<{ rows: T[]; next_cursor: string | null }> {
	const after = afterCursor(query.cursor, alias);
	const column = (name: string) => (alias ? `${alias}.${name}` : name);
	const { results } = await db
		.prepare(`${select} AND ${after.sql} ORDER BY ${column("created_at")}, ${column("id")} LIMIT ?`)
		.bind(...binds, ...after.binds, query.limit + 1)
		.all<T>();
	return page(results, query.limit);
}
