import { describe, expect, it } from "vitest";
import { call, callJson, countRows, pbxAccount } from "./helpers";

async function campaignOf(token: string) {
	const { body } = await callJson<{ id: string }>("/api/telesales/campaigns", { token, body: { name: "Spring promo" } });
	return body.id;
}

const vnMobile = (i: number) => `09${String(10_000_000 + i).slice(-8)}`;

describe("telesales", () => {
	it("campaign CRUD", async () => {
		const account = await pbxAccount();
		const id = await campaignOf(account.token);
		const patched = await callJson<{ status: string; version: number }>(`/api/telesales/campaigns/${id}`, {
			method: "PATCH",
			token: account.token,
			body: { status: "active" },
		});
		expect(patched.body).toMatchObject({ status: "active", version: 2 });
		expect(patched.body).not.toHaveProperty("account_id");
		const list = await callJson<{ data: { id: string }[] }>("/api/telesales/campaigns", { token: account.token });
		expect(list.body.data.map((c) => c.id)).toEqual([id]);
		await call(`/api/telesales/campaigns/${id}/leads`, { token: account.token, body: { phone: "0987000111" } });
		expect(
			(await call(`/api/telesales/campaigns/${id}`, { method: "DELETE", token: account.token, headers: { "If-Match": '"v1"' } }))
				.status,
		).toBe(412);
		expect(await countRows("leads", "campaign_id = ?", id)).toBe(1);
		expect((await call(`/api/telesales/campaigns/${id}`, { method: "DELETE", token: account.token })).status).toBe(204);
		expect(await countRows("leads", "campaign_id = ?", id)).toBe(0);
	});

	it("a phone already in the campaign → 409 naming the existing lead", async () => {
		const account = await pbxAccount();
		const id = await campaignOf(account.token);
		const first = await callJson<{ id: string; phone: string }>(`/api/telesales/campaigns/${id}/leads`, {
			token: account.token,
			body: { phone: "0987 000 111", name: "An" },
		});
		expect(first.body.phone).toBe("+84987000111");
		const again = await callJson<{ message: string; existing_id: string }>(`/api/telesales/campaigns/${id}/leads`, {
			token: account.token,
			body: { phone: "+84987000111" },
		});
		expect(again.status).toBe(409);
		expect(again.body.existing_id).toBe(first.body.id);
		expect(again.body.message).toBeTruthy();
	});

	it("bulk import of 10,000 rows reports created, duplicate and invalid rows, each correctly", async () => {
		const account = await pbxAccount();
		const id = await campaignOf(account.token);
		await call(`/api/telesales/campaigns/${id}/leads`, { token: account.token, body: { phone: vnMobile(5) } });
		const leads: unknown[] = Array.from({ length: 10_000 }, (_, i) => ({ phone: vnMobile(i), name: `Lead ${i}` }));
		leads[7] = { phone: vnMobile(3) }; // duplicate of row 3 within the file
		leads[11] = { phone: "12" }; // invalid phone
		leads[13] = { name: "no phone" }; // missing phone
		leads[17] = { phone: vnMobile(17), email: "not-an-email" };
		leads[19] = "not an object";
		const { status, body } = await callJson<{
			total: number;
			created: number;
			duplicates: number;
			invalid: number;
			rows: { row: number; result: string; id?: string; errors?: Record<string, string[]> }[];
		}>(`/api/telesales/campaigns/${id}/leads/bulk-import`, { token: account.token, body: { leads } });
		expect(status).toBe(201);
		expect(body).toMatchObject({ total: 10_000, duplicates: 2, invalid: 4, created: 9_994 });
		expect(body.rows[5]).toMatchObject({ result: "duplicate" });
		expect(body.rows[7]).toMatchObject({ result: "duplicate", id: body.rows[3]?.id });
		expect(Object.keys(body.rows[11]?.errors ?? {})).toEqual(["phone"]);
		expect(Object.keys(body.rows[13]?.errors ?? {})).toEqual(["phone"]);
		expect(Object.keys(body.rows[17]?.errors ?? {})).toEqual(["email"]);
		expect(body.rows[19]).toMatchObject({ result: "invalid" });
		expect(await countRows("leads", "campaign_id = ?", id)).toBe(9_995);
	});

	it("an atomic import with any invalid row stores nothing; an oversized one is refused", async () => {
		const account = await pbxAccount();
		const id = await campaignOf(account.token);
		const atomic = await callJson<{ errors: Record<string, string[]> }>(`/api/telesales/campaigns/${id}/leads/bulk-import`, {
			token: account.token,
			body: { atomic: true, leads: [{ phone: vnMobile(1) }, { phone: "bad" }] },
		});
		expect(atomic.status).toBe(422);
		expect(Object.keys(atomic.body.errors)).toEqual(["leads.1.phone"]);
		const tooMany = await callJson(`/api/telesales/campaigns/${id}/leads/bulk-import`, {
			token: account.token,
			body: { leads: Array.from({ length: 10_001 }, (_, i) => ({ phone: vnMobile(i) })) },
		});
		expect(tooMany.status).toBe(422);
		const notArray = await callJson(`/api/telesales/campaigns/${id}/leads/bulk-import`, {
			token: account.token,
			body: { leads: "many" },
		});
		expect(notArray.status).toBe(422);
		expect(await countRows("leads", "campaign_id = ?", id)).toBe(0);
	});

	it("leads list filters by status and paginates", async () => {
		const account = await pbxAccount();
		const id = await campaignOf(account.token);
		await callJson(`/api/telesales/campaigns/${id}/leads/bulk-import`, {
			token: account.token,
			body: { leads: Array.from({ length: 7 }, (_, i) => ({ phone: vnMobile(i), status: i < 3 ? "qualified" : "new" })) },
		});
		const qualified = await callJson<{ data: { status: string }[] }>(`/api/telesales/campaigns/${id}/leads?status=qualified`, {
			token: account.token,
		});
		expect(qualified.body.data).toHaveLength(3);
		let cursor: string | null = null;
		let seen = 0;
		do {
			const path: string = `/api/telesales/campaigns/${id}/leads?limit=3${cursor ? `&cursor=${cursor}` : ""}`;
			const pageResult = await callJson<{ data: unknown[]; next_cursor: string | null }>(path, { token: account.token });
			seen += pageResult.body.data.length;
			cursor = pageResult.body.next_cursor;
		} while (cursor);
		expect(seen).toBe(7);
		expect((await call(`/api/telesales/campaigns/${id}/leads?status=bogus`, { token: account.token })).status).toBe(422);
	});

	it("bulk PATCH and DELETE give per-item results", async () => {
		const account = await pbxAccount();
		const id = await campaignOf(account.token);
		const imported = await callJson<{ rows: { id: string }[] }>(`/api/telesales/campaigns/${id}/leads/bulk-import`, {
			token: account.token,
			body: { leads: Array.from({ length: 5 }, (_, i) => ({ phone: vnMobile(i) })) },
		});
		const ids = imported.body.rows.map((r) => r.id);
		const missing = crypto.randomUUID();
		const patched = await callJson<{ results: { id: string; result: string }[] }>("/api/telesales/leads/bulk", {
			method: "PATCH",
			token: account.token,
			body: {
				leads: [
					{ id: ids[0], status: "won" },
					{ id: ids[1], notes: "call back" },
					{ id: missing, status: "lost" },
					{ id: "junk" },
				],
			},
		});
		expect(patched.body.results.map((r) => r.result)).toEqual(["updated", "updated", "not_found", "not_found"]);
		const won = await callJson<{ status: string; version: number }>(`/api/telesales/leads/${ids[0]}`, { token: account.token });
		expect(won.body).toMatchObject({ status: "won", version: 2 });
		const badPatch = await callJson("/api/telesales/leads/bulk", {
			method: "PATCH",
			token: account.token,
			body: { leads: [{ id: ids[2], status: "sold!" }] },
		});
		expect(badPatch.status).toBe(422);

		const deleted = await callJson<{ results: { result: string }[] }>("/api/telesales/leads/bulk", {
			method: "DELETE",
			token: account.token,
			body: { ids: [ids[0], missing, ids[1]] },
		});
		expect(deleted.body.results.map((r) => r.result)).toEqual(["deleted", "not_found", "deleted"]);
		expect(await countRows("leads", "campaign_id = ?", id)).toBe(3);
		const tooMany = await callJson("/api/telesales/leads/bulk", {
			method: "DELETE",
			token: account.token,
			body: { ids: Array.from({ length: 1001 }, () => missing) },
		});
		expect(tooMany.status).toBe(422);
	});

	it("a disposition is recorded at most once per call, even under concurrency", async () => {
		const account = await pbxAccount();
		const id = await campaignOf(account.token);
		const lead = await callJson<{ id: string }>(`/api/telesales/campaigns/${id}/leads`, {
			token: account.token,
			body: { phone: "0987654321" },
		});
		const placed = await callJson<{ id: string }>("/api/pbx/calls/click-to-call", {
			token: account.token,
			body: { from_extension: "1001", to_phone: "0987654321" },
		});
		const responses = await Promise.all(
			Array.from({ length: 20 }, () =>
				callJson<{ id?: string; existing_id?: string }>(`/api/telesales/leads/${lead.body.id}/dispositions`, {
					token: account.token,
					body: { call_id: placed.body.id, outcome: "sale" },
				}),
			),
		);
		const created = responses.filter((r) => r.status === 201);
		expect(created).toHaveLength(1);
		expect(responses.filter((r) => r.status === 409).every((r) => r.body.existing_id === created[0]?.body.id)).toBe(true);
		expect(await countRows("dispositions", "call_id = ?", placed.body.id)).toBe(1);
		const after = await callJson<{ status: string }>(`/api/telesales/leads/${lead.body.id}`, { token: account.token });
		expect(after.body.status).toBe("won");
	});
});
