import { describe, expect, it } from "vitest";
import { checkRow, lostCreates, planImport, summarise, unconfirmedCreates } from "../../workers/lib/import-plan";
import { LeadBody } from "../../workers/telesales/schemas";

let n = 0;
const ids = () => `id-${n++}`;

describe("lead import planning", () => {
	it("normalises phones, reports invalid rows with their fields", () => {
		expect(checkRow({ phone: "0987654321" }, "VN", LeadBody)).toMatchObject({ value: { phone: "+84987654321", status: "new" } });
		expect(checkRow({ phone: "0987654321" }, "US", LeadBody)).toEqual({
			errors: { phone: [expect.stringContaining("region US")] },
		});
		expect(checkRow({ phone: 42 }, "VN", LeadBody)).toMatchObject({ errors: { phone: expect.any(Array) } });
		expect(checkRow(null, "VN", LeadBody)).toMatchObject({ errors: { row: expect.any(Array) } });
	});

	it("duplicates: against the campaign, and within the file (the first row wins)", () => {
		const checked = ["0987000001", "0987000002", "+84987000001", "0987000003"].map((phone) =>
			checkRow({ phone }, "VN", LeadBody),
		);
		const plan = planImport(checked, new Map([["+84987000003", "existing"]]), ids);
		expect(plan.rows.map((r) => r.result)).toEqual(["created", "created", "duplicate", "duplicate"]);
		expect(plan.rows[2]).toMatchObject({ id: plan.rows[0]?.result === "created" ? plan.rows[0].id : "?" });
		expect(plan.rows[3]).toMatchObject({ id: "existing" });
		expect(plan.creates.map((c) => c.phone)).toEqual(["+84987000001", "+84987000002"]);
		expect(summarise(plan)).toMatchObject({ total: 4, created: 2, duplicates: 2, invalid: 0 });
	});
});

describe("settling an import after its batch", () => {
	const creates = ["a", "b", "c", "d", "e"].map((id, n) => ({ id, phone: `+${n}` }));

	it("only the rows of statements whose changes are not the rows they carried are unconfirmed", () => {
		expect(unconfirmedCreates(creates, [2, 2, 1], [2, 2, 1])).toEqual([]);
		expect(unconfirmedCreates(creates, [2, 2, 1], [2, 1, 1])).toEqual([creates[2], creates[3]]);
		expect(unconfirmedCreates(creates, [2, 2, 1], [1, 2, 0]).map((create) => create.id)).toEqual(["a", "b", "e"]);
		// More changes than rows (a trigger's, say) proves nothing either: looked up too.
		expect(unconfirmedCreates(creates, [2, 2, 1], [2, 3, 1])).toEqual([creates[2], creates[3]]);
	});

	it("an unconfirmed row is lost when another row holds its phone (or none does); kept when its own id does", () => {
		const holders = new Map([
			["+2", "c"],
			["+3", "theirs"],
		]);
		expect(
			lostCreates(
				[creates[2], creates[3], creates[4]].filter((c) => c !== undefined),
				holders,
			),
		).toEqual(new Set(["d", "e"]));
	});
});
