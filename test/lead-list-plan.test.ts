import { env } from "cloudflare:workers";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { callJson, pbxAccount } from "./helpers";

/** The SQL of each lead listing the route runs, caught at D1's `all`. */
const listings: string[] = [];
const statement = Object.getPrototypeOf(env.DB.prepare("SELECT 1")) as { all: (...args: unknown[]) => unknown };
const originalAll = statement.all;
statement.all = function (this: { statement?: string }, ...args: unknown[]) {
	if (this.statement?.includes("FROM leads WHERE campaign_id")) listings.push(this.statement);
	return originalAll.apply(this, args);
};
afterEach(() => {
	listings.length = 0;
});
afterAll(() => {
	statement.all = originalAll;
});

async function planOf(sql: string): Promise<string> {
	const binds = Array.from(sql.matchAll(/\?/g), () => null);
	const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
		.bind(...binds)
		.all<{ detail: string }>();
	return results.map((row) => row.detail).join("; ");
}

describe("listing a campaign's leads by status", () => {
	it("pages through leads_by_status, sorting nothing", async () => {
		const { token } = await pbxAccount();
		const campaign = await callJson<{ id: string }>("/api/telesales/campaigns", { token, body: { name: "Plan" } });
		const listed = await callJson(`/api/telesales/campaigns/${campaign.body.id}/leads?status=new`, { token });
		expect(listed.status).toBe(200);
		expect(listings).toHaveLength(1);
		const plan = await planOf(listings[0] as string);
		expect(plan).toContain("leads_by_status");
		expect(plan).not.toContain("TEMP B-TREE");
	});
});
