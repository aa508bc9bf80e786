import { describe, expect, it } from "vitest";
import { chunkItems, type ImportReport, mergeBulkResults, mergeImportReports, splitCsv } from "../../sdk/src/bulk";

describe("chunkItems", () => {
	it("cuts by count, in order, the last chunk shorter", () => {
		const items = Array.from({ length: 25_001 }, (_, i) => i);
		const chunks = chunkItems(items, 10_000, Number.POSITIVE_INFINITY);
		expect(chunks.map((chunk) => chunk.length)).toEqual([10_000, 10_000, 5_001]);
		expect(chunks.flat()).toEqual(items);
		expect(chunkItems([], 10, 100)).toEqual([]);
	});

	it("cuts by the JSON body's bytes too, so no request is over the server's size limit", () => {
		const row = { phone: "+84987654321", notes: "x".repeat(1_000) };
		const chunks = chunkItems(Array(50).fill(row), 1_000, 20_000);
		for (const chunk of chunks) expect(new TextEncoder().encode(JSON.stringify({ leads: chunk })).length).toBeLessThan(20_000);
		expect(chunks.flat()).toHaveLength(50);
		// One item larger than a body is a chunk of its own: the server's 413 names it.
		expect(chunkItems(["y".repeat(5_000), "z"], 10, 2_000).map((chunk) => chunk.length)).toEqual([1, 1]);
	});
});

describe("merging", () => {
	const report = (rows: ImportReport["rows"]): ImportReport => ({
		total: rows.length,
		created: rows.filter((row) => row.result === "created").length,
		duplicates: rows.filter((row) => row.result === "duplicate").length,
		invalid: rows.filter((row) => row.result === "invalid").length,
		rows,
	});

	it("sums counts and numbers rows (and CSV lines) as in the whole input", () => {
		const merged = mergeImportReports([
			{
				report: report([
					{ row: 0, result: "created" },
					{ row: 1, result: "invalid", errors: { phone: ["bad"] } },
				]),
				firstRow: 0,
			},
			{ report: report([{ row: 0, result: "duplicate", line: 2 }]), firstRow: 2, lineOffset: 5 },
		]);
		expect(merged).toEqual({
			total: 3,
			created: 1,
			duplicates: 1,
			invalid: 1,
			rows: [
				{ row: 0, result: "created" },
				{ row: 1, result: "invalid", errors: { phone: ["bad"] } },
				{ row: 2, result: "duplicate", line: 7 },
			],
		});
		expect(
			mergeBulkResults([{ results: [{ id: "a", result: "updated" }] }, { results: [{ id: "b", result: "not_found" }] }]),
		).toEqual({
			results: [
				{ id: "a", result: "updated" },
				{ id: "b", result: "not_found" },
			],
		});
	});
});

describe("splitCsv", () => {
	/** The data records of CSV text, each with the file line it starts on, the way the server numbers them. */
	function records(text: string): { line: number; text: string }[] {
		const out: { line: number; text: string }[] = [];
		const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\n|\r/);
		let quoted = false;
		let current: { line: number; text: string } | undefined;
		lines.forEach((line, i) => {
			if (!current) {
				if (line === "") return;
				current = { line: i + 1, text: line };
			} else current.text += `\n${line}`;
			quoted = (line.match(/"/g)?.length ?? 0) % 2 === 1 ? !quoted : quoted;
			if (!quoted) {
				out.push(current);
				current = undefined;
			}
		});
		return out.slice(1);
	}

	const csv = [
		"\uFEFFphone,name,notes",
		"0987000001,Ann,plain",
		"",
		'0987000002,"Bo, Jr.","two',
		'lines"',
		'0987000003,"Cy ""the"" one",x',
		"\r",
		"0987000004,Di,last",
	].join("\r\n");

	it("every chunk starts with the header, and together they hold every record once, in order", () => {
		const chunks = splitCsv(csv, 2);
		expect(chunks.length).toBe(2);
		for (const chunk of chunks) expect(chunk.text.startsWith("phone,name,notes\r\n")).toBe(true);
		expect(chunks.flatMap((chunk) => records(chunk.text).map((record) => record.text))).toEqual(
			records(csv).map((record) => record.text),
		);
		expect(chunks.map((chunk) => chunk.firstRow)).toEqual([0, 2]);
	});

	it("a chunk's line plus its lineOffset is the line in the whole file", () => {
		const whole = records(csv);
		let row = 0;
		for (const chunk of splitCsv(csv, 2)) {
			for (const record of records(chunk.text)) {
				expect(record.line + chunk.lineOffset).toBe(whole[row]?.line);
				row++;
			}
		}
		expect(row).toBe(4);
	});

	it("cuts by bytes as well; header only or empty gives nothing to send", () => {
		const big = ["phone", ...Array.from({ length: 100 }, (_, i) => `09870${String(i).padStart(5, "0")}`)].join("\n");
		const chunks = splitCsv(big, 1_000, 200);
		for (const chunk of chunks) expect(new TextEncoder().encode(chunk.text).length).toBeLessThanOrEqual(200);
		expect(chunks.flatMap((chunk) => records(chunk.text))).toHaveLength(100);
		expect(splitCsv("phone\n")).toEqual([]);
		expect(splitCsv("")).toEqual([]);
	});
});
