import { afterEach, describe, expect, it } from "vitest";
import { ContactLedger } from "../durable-objects/contact-ledger";
import { callJson, pbxAccount } from "./helpers";
import { failMethod, restoreFaults } from "./support/faults";

afterEach(() => restoreFaults());

type Report = {
	total: number;
	added: number;
	duplicates: number;
	invalid: number;
	rows: { row: number; result: string; phone?: string; errors?: Record<string, string[]> }[];
};
type Entry = { phone: string; reason: string | null; source: string; created_at: string };
type Page = { data: Entry[]; next_cursor: string | null };

const addNumbers = (token: string, body: Record<string, unknown>) => callJson<Report>("/api/compliance/dnc", { token, body });
const lookUp = (token: string, phone: string) =>
	callJson<Page>(`/api/compliance/dnc?phone=${encodeURIComponent(phone)}`, { token });

describe("POST /api/compliance/dnc", () => {
	it("lists numbers in E.164 with a per-row report: added, duplicate (listed already or repeated), invalid", async () => {
		const { token } = await pbxAccount();
		const first = await addNumbers(token, { phones: ["0987000001", "+84 987 000 002"], reason: "asked us" });
		expect(first.status).toBe(201);
		expect(first.body).toMatchObject({ total: 2, added: 2, duplicates: 0, invalid: 0 });

		const second = await addNumbers(token, { phones: ["+84987000001", "0987000003", "not a number", 42, "0987 000 003"] });
		expect(second.status).toBe(201);
		expect(second.body).toMatchObject({ total: 5, added: 1, duplicates: 2, invalid: 2 });
		expect(second.body.rows).toEqual([
			{ row: 0, result: "duplicate", phone: "+84987000001" },
			{ row: 1, result: "added", phone: "+84987000003" },
			{ row: 2, result: "invalid", errors: { phone: ["Not a valid phone number (read in region VN)."] } },
			{ row: 3, result: "invalid", errors: { phone: ["Expected a string."] } },
			{ row: 4, result: "duplicate", phone: "+84987000003" },
		]);
		const entry = await lookUp(token, "0987000002");
		expect(entry.body.data).toEqual([
			{ phone: "+84987000002", reason: "asked us", source: "api", created_at: expect.any(String) },
		]);
	});

	it("atomic: one invalid row rejects the request and lists nothing", async () => {
		const { token } = await pbxAccount();
		const refused = await addNumbers(token, { phones: ["0987000011", "nope", "0987000012"], atomic: true });
		expect(refused.status).toBe(422);
		expect(refused.body).toMatchObject({ errors: { "phones.1": [expect.any(String)] } });
		expect((await lookUp(token, "0987000011")).body.data).toEqual([]);
	});

	it("bad bodies are 422 and store nothing: no phones, more than 10,000, a reason too long", async () => {
		const { token } = await pbxAccount();
		expect((await addNumbers(token, { phones: [] })).status).toBe(422);
		const tooMany = Array.from({ length: 10_001 }, (_, i) => `09${String(10_000_000 + i).slice(-8)}`);
		expect((await addNumbers(token, { phones: tooMany })).status).toBe(422);
		expect((await addNumbers(token, { phones: ["0987000021"], reason: "x".repeat(501) })).status).toBe(422);
		expect((await lookUp(token, "0987000021")).body.data).toEqual([]);
	});

	it("10,000 numbers in one request, listed together", async () => {
		const { token } = await pbxAccount();
		const phones = Array.from({ length: 10_000 }, (_, i) => `09${String(30_000_000 + i).slice(-8)}`);
		const added = await addNumbers(token, { phones });
		expect(added.status).toBe(201);
		expect(added.body).toMatchObject({ total: 10_000, added: 10_000, duplicates: 0, invalid: 0 });
		expect((await lookUp(token, phones[9_999] as string)).body.data).toHaveLength(1);
	});

	it("a list write that fails stores nothing (500); one whose answer is lost stored all, and the retry reports duplicates", async () => {
		const { token } = await pbxAccount();
		const phones = ["0987000031", "0987000032"];
		failMethod(ContactLedger.prototype, "add", { times: 1 });
		const failed = await callJson("/api/compliance/dnc", { token, body: { phones } });
		expect(failed.status).toBe(500);
		expect((await lookUp(token, phones[0] as string)).body.data).toEqual([]);

		failMethod(ContactLedger.prototype, "add", { times: 1, mode: "lose-answer" });
		expect((await callJson("/api/compliance/dnc", { token, body: { phones } })).status).toBe(500);
		const retry = await addNumbers(token, { phones });
		expect(retry.body).toMatchObject({ added: 0, duplicates: 2 });
	});
});

describe("GET /api/compliance/dnc", () => {
	it("pages through the list oldest first, without skipping or repeating", async () => {
		const { token } = await pbxAccount();
		const phones = Array.from({ length: 7 }, (_, i) => `+8498700010${i}`);
		for (const phone of phones) expect((await addNumbers(token, { phones: [phone] })).status).toBe(201);
		const seen: string[] = [];
		let cursor: string | null = null;
		do {
			const query: string = cursor ? `&cursor=${cursor}` : "";
			const page = await callJson<Page>(`/api/compliance/dnc?limit=3${query}`, { token });
			expect(page.status).toBe(200);
			expect(page.body.data.length).toBeLessThanOrEqual(3);
			seen.push(...page.body.data.map((entry) => entry.phone));
			cursor = page.body.next_cursor;
		} while (cursor);
		expect(seen).toEqual(phones);
	});

	it("?phone= finds the E.164 entry from any accepted spelling; an unreadable one is a 422", async () => {
		const { token } = await pbxAccount();
		await addNumbers(token, { phones: ["+84987000201"] });
		for (const spelling of ["0987000201", "+84987000201", "+84 987-000-201", "(098) 700 0201"]) {
			expect(
				(await lookUp(token, spelling)).body.data.map((entry) => entry.phone),
				spelling,
			).toEqual(["+84987000201"]);
		}
		expect((await lookUp(token, "0987000202")).body).toEqual({ data: [], next_cursor: null });
		const bad = await lookUp(token, "hello");
		expect(bad.status).toBe(422);
		expect(bad.body).toMatchObject({ errors: { phone: [expect.any(String)] } });
	});

	it("a bad cursor is a 400", async () => {
		const { token } = await pbxAccount();
		expect((await callJson("/api/compliance/dnc?cursor=nonsense", { token })).status).toBe(400);
	});
});

describe("DELETE /api/compliance/dnc/{phone}", () => {
	it("removes a listed number in any spelling (204); an absent or unreadable one is a 404", async () => {
		const { token } = await pbxAccount();
		await addNumbers(token, { phones: ["0987000301", "0987000302"] });
		expect((await callJson("/api/compliance/dnc/%2B84987000301", { token, method: "DELETE" })).status).toBe(204);
		expect((await callJson("/api/compliance/dnc/0987000302", { token, method: "DELETE" })).status).toBe(204);
		expect((await lookUp(token, "0987000301")).body.data).toEqual([]);
		const again = await callJson("/api/compliance/dnc/0987000301", { token, method: "DELETE" });
		expect(again.status).toBe(404);
		expect(again.body).toEqual({ message: "Number on the do-not-call list not found." });
		expect((await callJson("/api/compliance/dnc/banana", { token, method: "DELETE" })).status).toBe(404);
	});
});

describe("tenant isolation", () => {
	it("another account neither sees, finds nor removes a number of this account's list", async () => {
		const owner = await pbxAccount();
		const other = await pbxAccount();
		await addNumbers(owner.token, { phones: ["0987000401"] });
		expect((await lookUp(other.token, "0987000401")).body.data).toEqual([]);
		expect((await callJson<Page>("/api/compliance/dnc", { token: other.token })).body.data).toEqual([]);
		expect((await callJson("/api/compliance/dnc/0987000401", { token: other.token, method: "DELETE" })).status).toBe(404);
		expect((await lookUp(owner.token, "0987000401")).body.data).toHaveLength(1);
		// The same number on the other account's list is its own entry.
		expect((await addNumbers(other.token, { phones: ["0987000401"] })).body.added).toBe(1);
	});

	it("needs a token", async () => {
		expect((await callJson("/api/compliance/dnc")).status).toBe(401);
	});
});
