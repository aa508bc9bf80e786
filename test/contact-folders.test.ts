import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { planImport, settleRaces } from "../workers/lib/import-plan";
import { phones } from "./campaign-helpers";
import { burst, callJson, pbxAccount } from "./helpers";

interface ImportReport {
	total: number;
	created: number;
	duplicates: number;
	invalid: number;
	rows: { row: number; result: "created" | "duplicate" | "invalid"; id?: string; phone?: string }[];
}

describe("contact-folder imports", () => {
	it("20 concurrent imports of overlapping phones: all 201, one row per phone, each reported created exactly once", async () => {
		const account = await pbxAccount();
		const folder = await callJson<{ id: string }>("/api/autocall/contact-folders", {
			token: account.token,
			body: { name: "Overlapping" },
		});
		expect(folder.status).toBe(201);
		const pool = phones(48);
		// Import i takes 10 phones starting at 2i: every phone is in up to five imports.
		const imports = await burst(20, (i) =>
			callJson<ImportReport>(`/api/autocall/contact-folders/${folder.body.id}/contacts/bulk-import`, {
				token: account.token,
				body: { contacts: pool.slice(2 * i, 2 * i + 10) },
			}),
		);
		expect(imports.map((r) => r.status)).toEqual(imports.map(() => 201));

		const { results } = await env.DB.prepare("SELECT id, phone FROM contacts WHERE folder_id = ?")
			.bind(folder.body.id)
			.all<{ id: string; phone: string }>();
		const stored = new Map(results.map((row) => [row.phone, row.id]));
		const imported = new Set(pool);
		expect(results).toHaveLength(imported.size);
		expect(stored.size).toBe(imported.size);

		const rows = imports.flatMap((r) => r.body.rows);
		const created = rows.filter((row) => row.result === "created");
		expect(created).toHaveLength(imported.size);
		expect(new Set(created.map((row) => row.phone)).size).toBe(imported.size);
		for (const row of rows) {
			expect(row.result).not.toBe("invalid");
			expect(row.id, `${row.phone} ${row.result}`).toBe(stored.get(row.phone ?? ""));
		}
		for (const { body } of imports) {
			expect(body.created + body.duplicates).toBe(10);
			expect(body.rows.filter((row) => row.result === "created")).toHaveLength(body.created);
		}
	});

	it("settleRaces: a planned create that did not go in, and a later row repeating its phone, become duplicates of the winner", () => {
		let n = 0;
		const plan = planImport(
			[{ value: { phone: "+1" } }, { value: { phone: "+2" } }, { value: { phone: "+1" } }, { errors: { phone: ["bad"] } }],
			new Map(),
			() => `mine${n++}`,
		);
		const settled = settleRaces(plan, new Set(["mine0"]), new Map([["+1", "theirs"]]));
		expect(settled.creates.map((create) => create.id)).toEqual(["mine1"]);
		expect(settled.rows).toEqual([
			{ row: 0, result: "duplicate", id: "theirs", phone: "+1" },
			{ row: 1, result: "created", id: "mine1", phone: "+2" },
			{ row: 2, result: "duplicate", id: "theirs", phone: "+1" },
			{ row: 3, result: "invalid", errors: { phone: ["bad"] } },
		]);
		expect(settleRaces(plan, new Set(), new Map())).toBe(plan);
	});
});
