import { env } from "cloudflare:workers";

/** SQLite's plan for `sql`, its steps joined by "; " (every parameter bound to `binds`, else null). */
export async function queryPlan(sql: string, binds?: unknown[]): Promise<string> {
	const values = binds ?? Array.from(sql.matchAll(/\?/g), () => null);
	const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
		.bind(...values)
		.all<{ detail: string }>();
	return results.map((row) => row.detail).join("; ");
}
