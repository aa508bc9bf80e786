import { describe, expect, it } from "vitest";
import { DELETE_DISPOSITIONS_OF_LEADS } from "../workers/telesales/bulk";
import { callJson, countRows, pbxAccount } from "./helpers";
import { queryPlan } from "./support/query-plan";

describe("deleting leads", () => {
	it("finds their dispositions by lead_id, for the bulk delete and for the foreign key's cascade", async () => {
		const bulk = await queryPlan(DELETE_DISPOSITIONS_OF_LEADS, ["acc", "[]"]);
		expect(bulk).toContain("dispositions_lead");
		// The cascade runs the same lookup for each deleted lead: `lead_id = ?`.
		const cascade = await queryPlan("SELECT 1 FROM dispositions WHERE lead_id = ?", ["lead"]);
		expect(cascade).toContain("USING COVERING INDEX dispositions_lead (lead_id=?)");
	});

	it("the bulk delete takes a lead's dispositions with it, and another account's lead stays whole", async () => {
		const owner = await pbxAccount();
		const other = await pbxAccount();
		const campaign = await callJson<{ id: string }>("/api/telesales/campaigns", { token: owner.token, body: { name: "Gone" } });
		const lead = await callJson<{ id: string }>(`/api/telesales/campaigns/${campaign.body.id}/leads`, {
			token: owner.token,
			body: { phone: "0987654321" },
		});
		const placed = await callJson<{ id: string }>("/api/pbx/calls/click-to-call", {
			token: owner.token,
			body: { from_extension: "1001", to_phone: "0987654321" },
		});
		const disposition = await callJson(`/api/telesales/leads/${lead.body.id}/dispositions`, {
			token: owner.token,
			body: { call_id: placed.body.id, outcome: "sale" },
		});
		expect(disposition.status).toBe(201);

		const foreign = await callJson<{ results: { result: string }[] }>("/api/telesales/leads/bulk", {
			token: other.token,
			method: "DELETE",
			body: { ids: [lead.body.id] },
		});
		expect(foreign.body.results).toEqual([{ id: lead.body.id, result: "not_found" }]);
		expect(await countRows("dispositions", "lead_id = ?", lead.body.id)).toBe(1);

		const own = await callJson<{ results: { result: string }[] }>("/api/telesales/leads/bulk", {
			token: owner.token,
			method: "DELETE",
			body: { ids: [lead.body.id] },
		});
		expect(own.body.results).toEqual([{ id: lead.body.id, result: "deleted" }]);
		expect(await countRows("dispositions", "lead_id = ?", lead.body.id)).toBe(0);
		expect(await countRows("leads", "id = ?", lead.body.id)).toBe(0);
	});
});
