import { afterEach, describe, expect, it } from "vitest";
import { burst, callJson, countRows, pbxAccount } from "./helpers";
import { failD1, restoreFaults } from "./support/faults";

afterEach(() => restoreFaults());

interface Report {
	total: number;
	created: number;
	duplicates: number;
	rows: { row: number; result: string; id?: string; phone: string }[];
}

const phones = Array.from({ length: 60 }, (_, i) => `+8498700${String(i + 100).padStart(4, "0")}`);

async function campaign() {
	const account = await pbxAccount();
	const created = await callJson<{ id: string }>("/api/telesales/campaigns", { token: account.token, body: { name: "Imports" } });
	return { account, campaignId: created.body.id };
}

describe("lead bulk imports under concurrency", () => {
	it("20 concurrent imports with overlapping phones: all 201, one lead per phone, each phone reported created once", async () => {
		const { account, campaignId } = await campaign();
		const slices = Array.from({ length: 20 }, (_, n) => phones.slice((n * 7) % 30, ((n * 7) % 30) + 30));
		const responses = await burst(20, (n) =>
			callJson<Report>(`/api/telesales/campaigns/${campaignId}/leads/bulk-import`, {
				token: account.token,
				body: { leads: (slices[n] ?? []).map((phone) => ({ phone })) },
			}),
		);
		expect(responses.map((r) => r.status)).toEqual(Array(20).fill(201));
		const { results: leads } = await import("cloudflare:workers").then(({ env }) =>
			env.DB.prepare("SELECT id, phone FROM leads WHERE campaign_id = ?").bind(campaignId).all<{ id: string; phone: string }>(),
		);
		const idOf = new Map(leads.map((lead) => [lead.phone, lead.id]));
		expect(leads).toHaveLength(new Set(slices.flat()).size);
		const createdPhones = responses.flatMap((r) => r.body.rows.filter((row) => row.result === "created").map((row) => row.phone));
		expect(createdPhones.sort()).toEqual([...idOf.keys()].sort());
		for (const response of responses) {
			expect(response.body.created + response.body.duplicates).toBe(30);
			// Every row names the lead that holds its phone, whoever created it.
			for (const row of response.body.rows) expect(row.id, row.phone).toBe(idOf.get(row.phone));
		}
	});

	it("a keyed import whose batch committed but lost its answer: the retry answers the same report, nothing imported twice", async () => {
		const { account, campaignId } = await campaign();
		const headers = { "Idempotency-Key": crypto.randomUUID() };
		const body = { leads: phones.slice(0, 10).map((phone) => ({ phone })) };
		const path = `/api/telesales/campaigns/${campaignId}/leads/bulk-import`;
		failD1("INSERT INTO lead_imports", { mode: "lose-answer", times: 1 });
		expect((await callJson(path, { token: account.token, body, headers })).status).toBe(500);
		const retry = await callJson<Report>(path, { token: account.token, body, headers });
		expect(retry.status).toBe(201);
		expect(retry.body).toMatchObject({ total: 10, created: 10, duplicates: 0 });
		expect(await countRows("leads", "campaign_id = ?", campaignId)).toBe(10);
		expect(await countRows("lead_imports", "campaign_id = ?", campaignId)).toBe(1);
	});
});
