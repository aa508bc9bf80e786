import { describe, expect, it } from "vitest";
import {
	type Cell,
	columnsOf,
	encode,
	MAX_JSON_CHARS,
	type PositionalChunk,
	PositionalChunks,
	statementsForRows,
} from "../../workers/lib/json-rows";

/** The rows a chunk stands for: each row's own cells with the shared ones put back. */
function decode(chunk: PositionalChunk): Cell[][] {
	return (JSON.parse(chunk.json) as Cell[][]).map((cells) =>
		chunk.columns.map((column) => ("at" in column ? (cells[column.at] ?? null) : column.shared)),
	);
}

/** A builder whose "statements" are the chunks themselves, to look at. */
function chunker(limits?: { chars: number; rows: number }) {
	const chunks = new PositionalChunks((chunk) => chunk as unknown as D1PreparedStatement, limits);
	return {
		chunks,
		done: () => {
			const { statements, sizes } = chunks.done();
			return { chunks: statements as unknown as PositionalChunk[], sizes };
		},
	};
}

const lead = (i: number, status = "new"): Cell[] => [`id-${i}`, `+8498${i}`, `Lead ${i}`, null, status, "", "{}", null];

describe("positional chunks", () => {
	it("a column every row of the chunk shares is bound once; the others stay in the rows, in order", () => {
		const rows = [lead(1), lead(2), lead(3, "won")];
		const [chunk] = encode(rows, MAX_JSON_CHARS);
		expect(chunk?.columns).toEqual([
			{ at: 0 },
			{ at: 1 },
			{ at: 2 },
			{ shared: null },
			{ at: 3 },
			{ shared: "" },
			{ shared: "{}" },
			{ shared: null },
		]);
		expect(JSON.parse(chunk?.json ?? "")).toEqual([
			["id-1", "+84981", "Lead 1", "new"],
			["id-2", "+84982", "Lead 2", "new"],
			["id-3", "+84983", "Lead 3", "won"],
		]);
		expect(chunk && decode(chunk)).toEqual(rows);
		// One row: every column is its own, bound; json_each still yields the one row.
		const [single] = encode([lead(9)], MAX_JSON_CHARS);
		expect(single).toMatchObject({ json: "[[]]", size: 1 });
		expect(single && decode(single)).toEqual([lead(9)]);
	});

	it("columnsOf: a shared column is the next bound parameter, a row's own one is read by position", () => {
		const [chunk] = encode([lead(1), lead(2, "won")], MAX_JSON_CHARS);
		expect(chunk && columnsOf(chunk, 5)).toEqual({
			expressions: ["value ->> 0", "value ->> 1", "value ->> 2", "?5", "value ->> 3", "?6", "?7", "?8"],
			binds: [null, "", "{}", null],
		});
	});

	it("cuts by rows and by JSON size, keeping every row once and in order", () => {
		const byRows = chunker({ chars: MAX_JSON_CHARS, rows: 4 });
		const rows = Array.from({ length: 10 }, (_, i) => lead(i, i % 3 ? "new" : "won"));
		for (const row of rows) byRows.chunks.add(row);
		const cut = byRows.done();
		expect(cut.sizes).toEqual([4, 4, 2]);
		expect(cut.chunks.flatMap(decode)).toEqual(rows);

		const long = (i: number): Cell[] => [`id-${i}`, `+8498${i}`, `${"x".repeat(300)}${i}`, null];
		const bySize = chunker({ chars: 1_000, rows: 5_000 });
		const longRows = Array.from({ length: 12 }, (_, i) => long(i));
		for (const row of longRows) bySize.chunks.add(row);
		const sized = bySize.done();
		expect(sized.sizes.reduce((sum, size) => sum + size, 0)).toBe(12);
		for (const chunk of sized.chunks) expect(chunk.json.length).toBeLessThanOrEqual(1_000);
		expect(sized.chunks.flatMap(decode)).toEqual(longRows);
	});

	it("text whose JSON escapes make it longer than counted is halved until it fits; one row too long still goes alone", () => {
		// Each control character is 1 code unit in the row and 6 in its JSON (\u0001).
		const escaped = (i: number): Cell[] => [`id-${i}`, `${"\u0001".repeat(100)}${i}`];
		const cut = chunker({ chars: 1_000, rows: 5_000 });
		const rows = Array.from({ length: 8 }, (_, i) => escaped(i));
		for (const row of rows) cut.chunks.add(row);
		const { chunks, sizes } = cut.done();
		expect(sizes.length).toBeGreaterThan(1);
		for (const chunk of chunks) expect(chunk.json.length).toBeLessThanOrEqual(1_000);
		expect(chunks.flatMap(decode)).toEqual(rows);

		const huge: Cell[][] = [
			["a", "y".repeat(2_000)],
			["b", "z".repeat(2_000)],
		];
		const alone = encode(huge, 1_000);
		expect(alone.map((chunk) => chunk.size)).toEqual([1, 1]);
		expect(alone.flatMap(decode)).toEqual(huge);
	});

	it("statementsForRows cuts plain rows by JSON size too", () => {
		const seen: string[] = [];
		const values = Array.from({ length: 200 }, (_, i) => `${i}-${"v".repeat(5_000)}`);
		statementsForRows(values, (json) => {
			seen.push(json);
			return {} as D1PreparedStatement;
		});
		expect(seen.length).toBeGreaterThan(1);
		for (const json of seen) expect(json.length).toBeLessThanOrEqual(MAX_JSON_CHARS);
		expect(seen.flatMap((json) => JSON.parse(json) as string[])).toEqual(values);
	});
});
