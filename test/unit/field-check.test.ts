import { describe, expect, it } from "vitest";
import { ContactInput } from "../../workers/autocall/schemas";
import { fieldwise } from "../../workers/lib/field-check";
import { LeadBody } from "../../workers/telesales/schemas";

const rows: unknown[] = [
	{ phone: "0987000001" },
	{ phone: "0987000001", name: "  Jane Doe  ", email: "jane@example.com", status: "qualified", notes: "n" },
	{ phone: "0987000001", email: null, attributes: { plan: "gold", score: 3, vip: true, gone: null } },
	{ phone: "0987000001", name: "x".repeat(200) },
	{ phone: "0987000001", name: "x".repeat(201) },
	{ phone: "0987000001", name: ` ${"x".repeat(200)} ` },
	{ phone: "12" },
	{ phone: "1".repeat(33) },
	{ phone: 42 },
	{ name: "no phone" },
	{ phone: "0987000001", email: "not-an-email" },
	{ phone: "0987000001", status: "nope" },
	{ phone: "0987000001", notes: "y".repeat(5001) },
	{ phone: "0987000001", attributes: { ["k".repeat(101)]: "v" } },
	{ phone: "0987000001", attributes: { k: "v".repeat(1001) } },
	{ phone: "0987000001", attributes: { k: { nested: true } } },
	{ phone: "0987000001", attributes: "not a record" },
	{ phone: "0987000001", unknown: "field" },
	{ phone: "0987000001", constructor: "x" },
	JSON.parse('{"phone":"0987000001","__proto__":{"x":1}}'),
	{},
];

describe("fieldwise checks", () => {
	for (const [name, schema] of [
		["LeadBody", LeadBody],
		["ContactInput", ContactInput],
	] as const) {
		it(`${name}: a row it passes parses to exactly what the schema gives; every row the schema refuses it leaves to the schema`, () => {
			const quick = fieldwise(schema);
			let passed = 0;
			for (const row of rows) {
				const full = schema.safeParse(row);
				const fast = quick(row as Record<string, unknown>);
				if (fast === undefined) continue;
				passed++;
				expect(full.success, JSON.stringify(row)).toBe(true);
				expect(fast).toEqual(full.data);
			}
			expect(passed).toBeGreaterThanOrEqual(3);
		});
	}
});
