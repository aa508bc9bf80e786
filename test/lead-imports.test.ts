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

	it("CSV imports racing over the same phones, across several statements: each phone created once, every row names its holder; only the loser's short statements are read back, in one round trip", async () => {
		const { account, campaignId } = await campaign();
		const path = `/api/telesales/campaigns/${campaignId}/leads/bulk-import`;
		const csvPhone = (i: number) => `+8497${String(i).padStart(7, "0")}`;
		const csv = (from: number, to: number, repeat?: number) =>
			`phone\n${Array.from({ length: to - from }, (_, i) => csvPhone(from + i)).join("\n")}\n${repeat === undefined ? "" : `${csvPhone(repeat)}\n`}`;
		// A: 0..5,999; B: 5,000..10,999 and, last, a repeat of 5,500 (a phone it may lose).
		const files = [csv(0, 6_000), csv(5_000, 11_000, 5_500)];
		const reads = failD1("SELECT phone, id FROM leads", { times: 0 });
		const responses = await Promise.all(
			files.map((file) =>
				callJson<Report>(path, { token: account.token, method: "POST", rawBody: file, headers: { "Content-Type": "text/csv" } }),
			),
		);
		expect(responses.map((r) => r.status)).toEqual([201, 201]);
		// The batches commit one after the other: the second finds 1,000 phones taken in one of its statements.
		expect(reads.hits).toBe(1);
		const { results: leads } = await import("cloudflare:workers").then(({ env }) =>
			env.DB.prepare("SELECT id, phone FROM leads WHERE campaign_id = ?").bind(campaignId).all<{ id: string; phone: string }>(),
		);
		expect(leads).toHaveLength(11_000);
		const idOf = new Map(leads.map((lead) => [lead.phone, lead.id]));
		const created = responses.flatMap((r) => r.body.rows.filter((row) => row.result === "created").map((row) => row.phone));
		expect(created).toHaveLength(11_000);
		expect(new Set(created).size).toBe(11_000);
		for (const row of responses.flatMap((r) => r.body.rows)) expect(row.id, row.phone).toBe(idOf.get(row.phone));
		// A lost 1,000 (B's own repeat of 5,500 is a duplicate either way).
		expect([
			[0, 1_001],
			[1, 1_000],
		]).toContainEqual(responses.map((r) => r.body.duplicates).sort((a, b) => a - b));

		// An import whose every row goes in reads nothing back.
		const fresh = await campaign();
		const alone = await callJson<Report>(`/api/telesales/campaigns/${fresh.campaignId}/leads/bulk-import`, {
			token: fresh.account.token,
			method: "POST",
			rawBody: files[1],
			headers: { "Content-Type": "text/csv" },
		});
		expect(alone.body).toMatchObject({ created: 6_000, duplicates: 1 });
		expect(reads.hits).toBe(1);
	}, 60_000);

	it("the lookup of taken phones fails after the batch committed: the keyed retry answers the settled report, nothing imported twice", async () => {
		const { account, campaignId } = await campaign();
		const path = `/api/telesales/campaigns/${campaignId}/leads/bulk-import`;
		const first = await callJson<Report>(path, {
			token: account.token,
			body: { leads: phones.slice(0, 2).map((phone) => ({ phone })) },
		});
		const headers = { "Idempotency-Key": crypto.randomUUID() };
		const body = { leads: [phones[2], phones[1]].map((phone) => ({ phone })) };
		failD1("SELECT phone, id FROM leads", { times: 1 });
		expect((await callJson(path, { token: account.token, body, headers })).status).toBe(500);
		const retry = await callJson<Report>(path, { token: account.token, body, headers });
		expect(retry.status).toBe(201);
		// Found by the claim the batch committed with the leads, the stored plan settled again.
		expect(retry.body).toMatchObject({ total: 2, created: 1, duplicates: 1 });
		expect(retry.body.rows[1]).toMatchObject({ result: "duplicate", id: first.body.rows[1]?.id });
		expect(await countRows("leads", "campaign_id = ?", campaignId)).toBe(3);
	});

	it("a batch failing in a later statement stores nothing of the earlier ones; the same file then imports", async () => {
		const { account, campaignId } = await campaign();
		const path = `/api/telesales/campaigns/${campaignId}/leads/bulk-import`;
		const rows = Array.from({ length: 7_000 }, (_, i) => `+8496${String(i).padStart(7, "0")}`);
		const csv = `phone\n${rows.join("\n")}\n`;
		const post = () =>
			callJson<Report>(path, { token: account.token, method: "POST", rawBody: csv, headers: { "Content-Type": "text/csv" } });
		const { env } = await import("cloudflare:workers");
		// The last row is in the batch's last insert statement: SQLite aborts there, after the first inserted its rows.
		await env.DB.exec(
			`CREATE TRIGGER refuse_last_lead BEFORE INSERT ON leads WHEN NEW.phone = '${rows.at(-1)}' BEGIN SELECT RAISE(ABORT, 'refused'); END`,
		);
		try {
			expect((await post()).status).toBe(500);
		} finally {
			await env.DB.exec("DROP TRIGGER refuse_last_lead");
		}
		expect(await countRows("leads", "campaign_id = ?", campaignId)).toBe(0);
		expect((await post()).body).toMatchObject({ created: 7_000, duplicates: 0 });
	});
});
