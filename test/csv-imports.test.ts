import { describe, expect, it } from "vitest";
import { call, callJson, countRows, pbxAccount } from "./helpers";

interface Report {
	total: number;
	created: number;
	duplicates: number;
	invalid: number;
	rows: { row: number; line?: number; result: string; id?: string; phone?: string; errors?: Record<string, string[]> }[];
}

async function campaign() {
	const account = await pbxAccount();
	const created = await callJson<{ id: string }>("/api/telesales/campaigns", { token: account.token, body: { name: "CSV" } });
	return { account, leadsPath: `/api/telesales/campaigns/${created.body.id}/leads/bulk-import`, campaignId: created.body.id };
}

async function folder(base = "/api/autocall/contact-folders") {
	const account = await pbxAccount();
	const created = await callJson<{ id: string }>(base, { token: account.token, body: { name: "CSV" } });
	return { account, contactsPath: `${base}/${created.body.id}/contacts/bulk-import`, folderId: created.body.id };
}

const postCsv = (path: string, token: string, csv: string | Uint8Array, headers: Record<string, string> = {}) =>
	callJson<Report & { message?: string; errors?: Record<string, string[]> }>(path, {
		token,
		method: "POST",
		rawBody: csv,
		headers: { "Content-Type": "text/csv", ...headers },
	});

const phone = (i: number) => `+8498${String(i).padStart(7, "0")}`;

async function lead(campaignId: string, phoneNumber: string) {
	const { env } = await import("cloudflare:workers");
	return env.DB.prepare("SELECT name, email, status, notes, attributes FROM leads WHERE campaign_id = ? AND phone = ?")
		.bind(campaignId, phoneNumber)
		.first<{ name: string; email: string | null; status: string; notes: string; attributes: string }>();
}

describe("CSV lead imports", () => {
	it("maps header columns onto lead fields (any case, attributes.<name>), with quoting, escaped quotes, CRLF and a BOM", async () => {
		const { account, leadsPath, campaignId } = await campaign();
		const csv =
			"\uFEFFPhone,name,EMAIL,status,notes,attributes.plan\r\n" +
			'0987000001,"Doe, Jane",jane@example.com,qualified,"She said ""call me""\r\nafter 5",gold\r\n' +
			"0987000002,,,,,\r\n";
		const { status, body } = await postCsv(leadsPath, account.token, csv);
		expect(status).toBe(201);
		expect(body).toMatchObject({ total: 2, created: 2, duplicates: 0, invalid: 0 });
		expect(body.rows.map((r) => [r.row, r.line, r.phone])).toEqual([
			[0, 2, "+84987000001"],
			[1, 4, "+84987000002"],
		]);
		expect(await lead(campaignId, "+84987000001")).toEqual({
			name: "Doe, Jane",
			email: "jane@example.com",
			status: "qualified",
			notes: 'She said "call me"\r\nafter 5',
			attributes: '{"plan":"gold"}',
		});
		// Empty cells are absent fields: the JSON defaults.
		expect(await lead(campaignId, "+84987000002")).toEqual({ name: "", email: null, status: "new", notes: "", attributes: "{}" });
	});

	it("reports each row (0-based record index and file line): created, duplicate, invalid, wrong field count", async () => {
		const { account, leadsPath } = await campaign();
		const csv = ["phone,name", "0987000011,A", "", "0987000011,B", "not-a-phone,C", "0987000012,D,extra", "0987000013,E"].join(
			"\n",
		);
		const { status, body } = await postCsv(leadsPath, account.token, csv);
		expect(status).toBe(201);
		expect(body).toMatchObject({ total: 5, created: 2, duplicates: 1, invalid: 2 });
		expect(body.rows.map((r) => [r.row, r.line, r.result])).toEqual([
			[0, 2, "created"],
			[1, 4, "duplicate"],
			[2, 5, "invalid"],
			[3, 6, "invalid"],
			[4, 7, "created"],
		]);
		expect(body.rows[1]?.id).toBe(body.rows[0]?.id);
		expect(body.rows[2]?.errors?.phone?.[0]).toBeTruthy();
		expect(body.rows[3]?.errors?.row?.[0]).toMatch(/Expected 2 fields/);
	});

	it("?atomic=true: one invalid row stores nothing and the 422 names it as JSON would", async () => {
		const { account, leadsPath, campaignId } = await campaign();
		const csv = `phone\n${phone(1)}\n${phone(2)}\nbad\n`;
		const { status, body } = await postCsv(`${leadsPath}?atomic=true`, account.token, csv);
		expect(status).toBe(422);
		expect(body.message).toMatch(/1 invalid rows; nothing was imported/);
		expect(Object.keys(body.errors ?? {})).toEqual(["leads.2.phone"]);
		expect(await countRows("leads", "campaign_id = ?", campaignId)).toBe(0);
		// Without atomic the same file imports its good rows.
		expect((await postCsv(leadsPath, account.token, csv)).body).toMatchObject({ created: 2, invalid: 1 });
	});

	it("an unknown column is a 422 naming it; a header without phone is a 422; nothing stored", async () => {
		const { account, leadsPath, campaignId } = await campaign();
		const unknown = await postCsv(leadsPath, account.token, `phone,colour\n${phone(1)},red\n`);
		expect(unknown.status).toBe(422);
		expect(unknown.body.errors).toHaveProperty(["columns.colour"]);
		const noPhone = await postCsv(leadsPath, account.token, "name\nJane\n");
		expect(noPhone.status).toBe(422);
		expect(noPhone.body.errors).toHaveProperty(["columns.phone"]);
		expect(await countRows("leads", "campaign_id = ?", campaignId)).toBe(0);
	});

	it("malformed CSV is a 4xx with a clear message and stores nothing, atomic or not", async () => {
		const { account, leadsPath, campaignId } = await campaign();
		const good = Array.from({ length: 2500 }, (_, i) => phone(i)).join("\n");
		const unclosed = await postCsv(
			leadsPath,
			account.token,
			`phone,name\n${good.replaceAll("\n", ",x\n")},x\n${phone(9999)},"never closed\n`,
		);
		expect(unclosed.status).toBe(400);
		expect(unclosed.body.message).toMatch(/Malformed CSV: Quote Not Closed/);
		const empty = await postCsv(leadsPath, account.token, "");
		expect(empty.status).toBe(400);
		expect(empty.body.message).toMatch(/empty/);
		const headerOnly = await postCsv(leadsPath, account.token, "phone\n");
		expect(headerOnly.status).toBe(422);
		const notUtf8 = await postCsv(
			leadsPath,
			account.token,
			new Uint8Array([0x70, 0x68, 0x6f, 0x6e, 0x65, 0x0a, 0xff, 0xfe, 0x0a]),
		);
		expect(notUtf8.status).toBe(400);
		expect(notUtf8.body.message).toMatch(/UTF-8/);
		const latin1 = await postCsv(leadsPath, account.token, `phone\n${phone(1)}\n`, {
			"Content-Type": "text/csv; charset=iso-8859-1",
		});
		expect(latin1.status).toBe(415);
		const xml = await call(leadsPath, {
			token: account.token,
			method: "POST",
			rawBody: "<leads/>",
			headers: { "Content-Type": "application/xml" },
		});
		expect(xml.status).toBe(415);
		expect(await countRows("leads", "campaign_id = ?", campaignId)).toBe(0);
	});

	it("an Idempotency-Key replays a CSV import as it does JSON; another file or option under the key is a 422", async () => {
		const { account, leadsPath, campaignId } = await campaign();
		const key = { "Idempotency-Key": crypto.randomUUID() };
		const csv = `phone\n${phone(1)}\n${phone(2)}\n`;
		const first = await postCsv(leadsPath, account.token, csv, key);
		expect(first.status).toBe(201);
		const again = await postCsv(leadsPath, account.token, csv, key);
		expect(again.status).toBe(201);
		expect(again.response.headers.get("Idempotent-Replayed")).toBe("true");
		expect(again.body).toEqual(first.body);
		expect(await countRows("leads", "campaign_id = ?", campaignId)).toBe(2);
		expect((await postCsv(leadsPath, account.token, `${csv}${phone(3)}\n`, key)).status).toBe(422);
		expect((await postCsv(`${leadsPath}?atomic=true`, account.token, csv, key)).status).toBe(422);
	});

	it("phones the campaign already has are duplicates of its leads (found by the insert itself), in the answer and in a keyed replay", async () => {
		const { account, leadsPath, campaignId } = await campaign();
		const first = await postCsv(leadsPath, account.token, `phone\n${phone(1)}\n${phone(2)}\n`);
		const [one, two] = first.body.rows.map((row) => row.id);
		const key = { "Idempotency-Key": crypto.randomUUID() };
		const csv = `phone,name\n${phone(3)},new\n${phone(2)},again\n${phone(1)},again\n${phone(2)},twice\n`;
		const second = await postCsv(leadsPath, account.token, csv, key);
		expect(second.status).toBe(201);
		expect(second.body).toMatchObject({ total: 4, created: 1, duplicates: 3, invalid: 0 });
		expect(second.body.rows.map((row) => [row.result, row.id])).toEqual([
			["created", second.body.rows[0]?.id],
			["duplicate", two],
			["duplicate", one],
			["duplicate", two],
		]);
		expect(await lead(campaignId, phone(2))).toMatchObject({ name: "" });
		const replay = await postCsv(leadsPath, account.token, csv, key);
		expect(replay.response.headers.get("Idempotent-Replayed")).toBe("true");
		expect(replay.body).toEqual(second.body);
		expect(await countRows("leads", "campaign_id = ?", campaignId)).toBe(3);
	});

	it("a column most rows leave blank is stored per row: the default where blank, the value where given, across statements", async () => {
		const { account, leadsPath, campaignId } = await campaign();
		const lines = ["phone,status,notes"];
		for (let i = 0; i < 6_000; i++) lines.push(`${phone(i)},${i === 10 ? "won" : ""},${i === 5_500 ? "hello" : ""}`);
		expect((await postCsv(leadsPath, account.token, lines.join("\n"))).body).toMatchObject({ created: 6_000 });
		expect(await lead(campaignId, phone(10))).toMatchObject({ status: "won", notes: "" });
		expect(await lead(campaignId, phone(11))).toMatchObject({ status: "new", notes: "" });
		expect(await lead(campaignId, phone(5_500))).toMatchObject({ status: "new", notes: "hello" });
		expect(await lead(campaignId, phone(5_999))).toMatchObject({ status: "new", notes: "" });
	});

	it("rows with long text are cut into statements by size, every one stored whole", async () => {
		const { account, campaignId } = await campaign();
		// 600 leads of 4,500-character notes: 2.7 MB of rows, more than one D1 value may hold.
		const leads = Array.from({ length: 600 }, (_, i) => ({
			phone: phone(i),
			status: "qualified",
			notes: `${i}:${"n".repeat(4_500)}`,
		}));
		const { status, body } = await callJson<Report>(`/api/telesales/campaigns/${campaignId}/leads/bulk-import`, {
			token: account.token,
			body: { leads },
		});
		expect(status).toBe(201);
		expect(body).toMatchObject({ created: 600 });
		const stored = await lead(campaignId, phone(599));
		expect(stored).toMatchObject({ status: "qualified", notes: `599:${"n".repeat(4_500)}` });
	});

	it("another account's campaign is a 404", async () => {
		const { leadsPath, campaignId } = await campaign();
		const stranger = await pbxAccount();
		expect((await postCsv(leadsPath, stranger.token, `phone\n${phone(1)}\n`)).status).toBe(404);
		expect(await countRows("leads", "campaign_id = ?", campaignId)).toBe(0);
	});
});

describe("CSV contact imports", () => {
	it("extra columns become attributes; the /api/public/v1 alias takes CSV too", async () => {
		for (const base of ["/api/autocall/contact-folders", "/api/public/v1/contact-folders"]) {
			const { account, contactsPath, folderId } = await folder(base);
			const csv = `phone,Name,city,attributes.tier\n${phone(1)},Ann,Hanoi,1\n${phone(2)},Bo,,\n`;
			const { status, body } = await postCsv(contactsPath, account.token, csv);
			expect(status).toBe(201);
			expect(body).toMatchObject({ total: 2, created: 2 });
			const { env } = await import("cloudflare:workers");
			const { results } = await env.DB.prepare("SELECT phone, name, attributes FROM contacts WHERE folder_id = ? ORDER BY phone")
				.bind(folderId)
				.all();
			expect(results).toEqual([
				{ phone: phone(1), name: "Ann", attributes: '{"city":"Hanoi","tier":"1"}' },
				{ phone: phone(2), name: "Bo", attributes: "{}" },
			]);
		}
	});

	it("?atomic=true stores nothing on an invalid row; malformed CSV stores nothing; another account's folder is a 404", async () => {
		const { account, contactsPath, folderId } = await folder();
		const atomic = await postCsv(`${contactsPath}?atomic=true`, account.token, `phone\n${phone(1)}\nx\n`);
		expect(atomic.status).toBe(422);
		expect(Object.keys(atomic.body.errors ?? {})).toEqual(["contacts.1.phone"]);
		expect((await postCsv(contactsPath, account.token, `phone\n${phone(1)}\n"${phone(2)}`)).status).toBe(400);
		expect(await countRows("contacts", "folder_id = ?", folderId)).toBe(0);
		const stranger = await pbxAccount();
		expect((await postCsv(contactsPath, stranger.token, `phone\n${phone(1)}\n`)).status).toBe(404);
	});
});

describe("CSV imports at scale", () => {
	// The figure: 100,000 rows (100 chunks, ten times the JSON cap) in one request to each route.
	const ROWS = 100_000;
	const bigCsv = () => {
		const lines = ["phone,name"];
		for (let i = 0; i < ROWS - 1; i++) lines.push(`${phone(i)},Name ${i}`);
		// The last of the ROWS records repeats row 0's phone, 99 chunks later: a duplicate.
		lines.push(`${phone(0)},again`);
		return `${lines.join("\n")}\n`;
	};

	it(`${ROWS} leads in one request: exact counts, duplicate across chunks found`, async () => {
		const { account, leadsPath, campaignId } = await campaign();
		const { status, body } = await postCsv(leadsPath, account.token, bigCsv());
		expect(status).toBe(201);
		expect(body).toMatchObject({ total: ROWS, created: ROWS - 1, duplicates: 1, invalid: 0 });
		expect(body.rows.at(-1)).toMatchObject({ row: ROWS - 1, line: ROWS + 1, result: "duplicate", id: body.rows[0]?.id });
		expect(await countRows("leads", "campaign_id = ?", campaignId)).toBe(ROWS - 1);
	}, 120_000);

	it(`${ROWS} contacts in one request: exact counts`, async () => {
		const { account, contactsPath, folderId } = await folder();
		const { status, body } = await postCsv(contactsPath, account.token, bigCsv());
		expect(status).toBe(201);
		expect(body).toMatchObject({ total: ROWS, created: ROWS - 1, duplicates: 1, invalid: 0 });
		expect(await countRows("contacts", "folder_id = ?", folderId)).toBe(ROWS - 1);
	}, 120_000);

	it("more than 100,000 rows is a 422 and stores nothing", async () => {
		const { account, contactsPath, folderId } = await folder();
		const lines = ["phone"];
		for (let i = 0; i <= 100_000; i++) lines.push(phone(i));
		const { status, body } = await postCsv(contactsPath, account.token, lines.join("\n"));
		expect(status).toBe(422);
		expect(body.errors).toHaveProperty("rows");
		expect(await countRows("contacts", "folder_id = ?", folderId)).toBe(0);
	}, 120_000);
});
