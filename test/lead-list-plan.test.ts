import { env } from "cloudflare:workers";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { callJson, pbxAccount } from "./helpers";
import { queryPlan } from "./support/query-plan";

/** The SQL of each lead listing the route runs, caught at D1's `all`. */
const listings: string[] = [];
const statement = Object.getPrototypeOf(env.DB.prepare("SELECT 1")) as { all: (...args: unknown[]) => unknown };
const originalAll = statement.all;
statement.all = function (this: { statement?: string }, ...args: unknown[]) {
	if (this.statement?.startsWith("SELECT") && this.statement.includes("FROM leads WHERE campaign_id"))
		listings.push(this.statement);
	return originalAll.apply(this, args);
};
afterEach(() => {
	listings.length = 0;
});
afterAll(() => {
	statement.all = originalAll;
});

describe("listing a campaign's leads by status", () => {
	it("pages through leads_by_status, each page a range that starts where the last ended, sorting nothing", async () => {
		const { token } = await pbxAccount();
		const campaign = await callJson<{ id: string }>("/api/telesales/campaigns", { token, body: { name: "Plan" } });
		const leads = `/api/telesales/campaigns/${campaign.body.id}/leads`;
		for (const phone of ["0987000001", "0987000002"]) await callJson(leads, { token, body: { phone } });
		const first = await callJson<{ data: unknown[]; next_cursor: string }>(`${leads}?status=new&limit=1`, { token });
		expect(first.body.data).toHaveLength(1);
		const second = await callJson<{ data: unknown[] }>(
			`${leads}?status=new&limit=1&cursor=${encodeURIComponent(first.body.next_cursor)}`,
			{ token },
		);
		expect(second.body.data).toHaveLength(1);
		expect(listings).toHaveLength(2);
		for (const sql of listings) {
			const plan = await queryPlan(sql);
			expect(plan).toContain("USING INDEX leads_by_status (campaign_id=? AND status=?");
			expect(plan).not.toContain("TEMP B-TREE");
		}
		expect(await queryPlan(listings[1] as string)).toContain("(created_at,id)>(?,?)");
	});
});
