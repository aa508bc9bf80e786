import { z } from "zod";
import { fromBase64Url, toBase64Url } from "../lib/crypto";
import { ApiError } from "./errors";

export const PageQuery = z.object({
	limit: z.coerce.number().int().min(1).max(100).default(50),
	cursor: z.string().max(500).optional(),
});
export type PageQuery = z.infer<typeof PageQuery>;

/**
 * A list that can also be read newest first (a log, where the latest rows are the ones looked
 * for). The cursor remembers the order it was made for, so it cannot continue the other way.
 */
export const OrderedPageQuery = PageQuery.extend({
	order: z
		.enum(["asc", "desc"])
		.default("asc")
		.describe(
			"`asc` (the default) pages from the oldest row, `desc` from the newest; `next_cursor` continues in the same order, and only with the same `order`.",
		),
});
type Order = z.infer<typeof OrderedPageQuery>["order"];

/** Keyset position: rows are ordered by (created_at, id), so pages never skip or repeat. */
interface Position {
	created_at: string;
	id: string;
}

/** An ascending cursor keeps the two-item form it always had; a descending one says so in a third. */
export function encodeCursor(position: Position, order: Order = "asc"): string {
	const parts = order === "asc" ? [position.created_at, position.id] : [position.created_at, position.id, order];
	return toBase64Url(new TextEncoder().encode(JSON.stringify(parts)));
}

export function decodeCursor(cursor: string | undefined, order: Order = "asc"): Position | undefined {
	if (cursor === undefined) return undefined;
	let parts: [string, string, ...string[]];
	try {
		const text = new TextDecoder().decode(fromBase64Url(cursor));
		parts = z
			.union([z.tuple([z.string(), z.string()]), z.tuple([z.string(), z.string(), z.literal("desc")])])
			.parse(JSON.parse(text));
	} catch {
		throw new ApiError(400, "Invalid cursor.");
	}
	const made = parts[2] ?? "asc";
	if (made !== order) throw new ApiError(400, `Invalid cursor: it continues order=${made}, not order=${order}.`);
	return { created_at: parts[0], id: parts[1] };
}

/** Fetches `limit + 1` rows to know whether there is a next page. */
function page<T extends Position>(rows: T[], limit: number, order: Order): { rows: T[]; next_cursor: string | null } {
	const more = rows.length > limit;
	const kept = more ? rows.slice(0, limit) : rows;
	const last = kept[kept.length - 1];
	return { rows: kept, next_cursor: more && last ? encodeCursor(last, order) : null };
}

/** SQL fragment and bindings that continue after the cursor, in the page's order. */
function afterCursor(cursor: string | undefined, order: Order, alias = ""): { sql: string; binds: string[] } {
	const position = decodeCursor(cursor, order);
	if (!position) return { sql: "1 = 1", binds: [] };
	const column = (name: string) => (alias ? `${alias}.${name}` : name);
	const beyond = order === "asc" ? ">" : "<";
	// A row value, not `a > ? OR (a = ? AND b > ?)`: SQLite turns only this spelling into a range
	// on an index ending in (created_at, id), so page k starts where page k - 1 ended instead of
	// reading every row before it.
	return {
		sql: `(${column("created_at")}, ${column("id")}) ${beyond} (?, ?)`,
		binds: [position.created_at, position.id],
	};
}

export const pageOf = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), next_cursor: z.string().nullable() });

/**
 * One page of `select` (a query ending in its WHERE conditions), in keyset order: oldest first
 * unless the query asks for `order: "desc"`. `alias` is the table alias that owns `created_at`
 * and `id` when the query joins.
 */
export async function pageOfRows<T extends Position>(
	db: D1Database,
	select: string,
	binds: unknown[],
	query: PageQuery & { order?: Order },
	alias = "",
): Promise<{ rows: T[]; next_cursor: string | null }> {
	const order = query.order ?? "asc";
	const after = afterCursor(query.cursor, order, alias);
	const column = (name: string) => (alias ? `${alias}.${name}` : name);
	const direction = order === "asc" ? "" : " DESC";
	const { results } = await db
		.prepare(`${select} AND ${after.sql} ORDER BY ${column("created_at")}${direction}, ${column("id")}${direction} LIMIT ?`)
		.bind(...binds, ...after.binds, query.limit + 1)
		.all<T>();
	return page(results, query.limit, order);
}
