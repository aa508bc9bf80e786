import { describe, expect, it } from "vitest";
import { MAX_ATTRIBUTES } from "../workers/lib/attributes";
import { callJson, countRows, pbxAccount } from "./helpers";

/** One attribute more than allowed: with values of 1,000 characters a row could pass D1's 2 MB per value. */
const tooMany = Object.fromEntries(Array.from({ length: MAX_ATTRIBUTES + 1 }, (_, i) => [`a${i}`, "x".repeat(1000)]));
const enough = Object.fromEntries(Array.from({ length: MAX_ATTRIBUTES }, (_, i) => [`a${i}`, "x"]));

async function places() {
	const account = await pbxAccount();
	const campaign = await callJson<{ id: string }>("/api/telesales/campaigns", { token: account.token, body: { name: "Attrs" } });
	const folder = await callJson<{ id: string }>("/api/autocall/contact-folders", {
		token: account.token,
		body: { name: "Attrs" },
	});
	return {
		token: account.token,
		leads: `/api/telesales/campaigns/${campaign.body.id}/leads`,
		contacts: `/api/autocall/contact-folders/${folder.body.id}/contacts/bulk-import`,
		campaignId: campaign.body.id,
	};
}

describe(`at most ${MAX_ATTRIBUTES} attributes per lead or contact`, () => {
	it("a lead with one more is a 422 naming attributes, and nothing is stored; exactly the limit is taken", async () => {
		const { token, leads, campaignId } = await places();
		const refused = await callJson<{ message: string; errors: Record<string, string[]> }>(leads, {
			token,
			body: { phone: "0987000001", attributes: tooMany },
		});
		expect(refused.status).toBe(422);
		expect(refused.body.errors.attributes).toEqual([`At most ${MAX_ATTRIBUTES} attributes.`]);
		expect(await countRows("leads", "campaign_id = ?", campaignId)).toBe(0);
		const taken = await callJson(leads, { token, body: { phone: "0987000001", attributes: enough } });
		expect(taken.status).toBe(201);
	});

	it("in a JSON bulk import the row is invalid and the others go in", async () => {
		const { token, leads, campaignId } = await places();
		const report = await callJson<{
			created: number;
			invalid: number;
			rows: { result: string; errors?: Record<string, string[]> }[];
		}>(`${leads}/bulk-import`, {
			token,
			body: { leads: [{ phone: "0987000001", attributes: tooMany }, { phone: "0987000002" }] },
		});
		expect(report.status).toBe(201);
		expect([report.body.created, report.body.invalid]).toEqual([1, 1]);
		expect(report.body.rows[0]?.errors?.attributes).toEqual([`At most ${MAX_ATTRIBUTES} attributes.`]);
		expect(await countRows("leads", "campaign_id = ?", campaignId)).toBe(1);
	});

	it("a CSV header with more attribute columns is a 422, for leads and for contacts", async () => {
		const { token, leads, contacts } = await places();
		const header = ["phone", ...Object.keys(tooMany).map((key) => `attributes.${key}`)].join(",");
		const csv = `${header}\n0987000001${",x".repeat(MAX_ATTRIBUTES + 1)}\n`;
		for (const path of [`${leads}/bulk-import`, contacts]) {
			const refused = await callJson<{ message: string; errors: Record<string, string[]> }>(path, {
				token,
				method: "POST",
				rawBody: csv,
				headers: { "Content-Type": "text/csv" },
			});
			expect(refused.status).toBe(422);
			expect(refused.body.errors.columns).toEqual([`At most ${MAX_ATTRIBUTES} attribute columns.`]);
		}
	});
});
