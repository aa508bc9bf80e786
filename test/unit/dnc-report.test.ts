import { describe, expect, it } from "vitest";
import { checkPhone, distinctPhones, dncReport, invalidRows } from "../../workers/compliance/dnc-report";

describe("a do-not-call POST's rows", () => {
	it("reads each row in the account's region: E.164, or why it is no number", () => {
		expect(checkPhone("0987654321", "VN")).toEqual({ phone: "+84987654321" });
		expect(checkPhone("(415) 555-0101", "US")).toEqual({ phone: "+14155550101" });
		expect(checkPhone("12", "VN")).toEqual({ errors: { phone: ["Not a valid phone number (read in region VN)."] } });
		expect(checkPhone(987654321, "VN")).toEqual({ errors: { phone: ["Expected a string."] } });
		expect(checkPhone(`0987654321${" ".repeat(60)}`, "VN")).toMatchObject({ errors: { phone: [expect.any(String)] } });
	});

	it("asks the list for each valid number once, in row order", () => {
		const checked = ["0987000002", "bad", "0987000001", "+84987000002"].map((raw) => checkPhone(raw, "VN"));
		expect(distinctPhones(checked)).toEqual(["+84987000002", "+84987000001"]);
	});

	it("reports added on a number's first row only when the list took it; repeats and listed numbers are duplicates", () => {
		const checked = ["0987000001", "0987000002", "x", "0987000001"].map((raw) => checkPhone(raw, "VN"));
		const report = dncReport(checked, new Set(["+84987000001"]));
		expect(report).toMatchObject({ total: 4, added: 1, duplicates: 2, invalid: 1 });
		expect(report.rows.map((row) => row.result)).toEqual(["added", "duplicate", "invalid", "duplicate"]);
	});

	it("names every invalid row for an atomic request", () => {
		const checked = ["x", "0987000001", 5].map((raw) => checkPhone(raw, "VN"));
		expect(Object.keys(invalidRows(checked))).toEqual(["phones.0", "phones.2"]);
	});
});
