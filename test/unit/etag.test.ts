import { describe, expect, it } from "vitest";
import { expectedVersion, liveTag, matchesVersion, versionTag } from "../../workers/http/etag";
import { decodeCursor, encodeCursor } from "../../workers/http/pagination";

const withIfMatch = (value?: string) => new Request("http://x/", { headers: value === undefined ? {} : { "If-Match": value } });

describe("If-Match parsing", () => {
	it.each([
		[undefined, undefined],
		['"v3"', [3]],
		['W/"v3"', []],
		['"v3-0a1b2c3d4e5f6a7b"', [3]],
		['"v3-"', []],
		["*", "any"],
		['"v3", "v4"', [3, 4]],
		['"v7", W/"v1", "v1"', [7, 1]],
		['"etag-abc123"', []],
		["garbage", []],
		[`"v${"9".repeat(400)}"`, []],
		['"v9007199254740993"', []],
	])("%s → %j", (header, expected) => {
		expect(expectedVersion(withIfMatch(header))).toEqual(expected);
	});

	it("a version matches when the header is absent or `*`, or when one of its strong tags names it", () => {
		expect(matchesVersion(undefined, 3)).toBe(true);
		expect(matchesVersion("any", 3)).toBe(true);
		expect(matchesVersion([7, 3], 3)).toBe(true);
		expect(matchesVersion([], 3)).toBe(false);
	});

	it("version tags are strong and quoted", () => {
		expect(versionTag(7)).toBe('"v7"');
	});

	it("live tags carry the version and change with the body", async () => {
		const tag = await liveTag(7, { live: { in_flight: 1 } });
		expect(tag).toMatch(/^"v7-[0-9a-f]{16}"$/);
		expect(await liveTag(7, { live: { in_flight: 1 } })).toBe(tag);
		expect(await liveTag(7, { live: { in_flight: 0 } })).not.toBe(tag);
		expect(expectedVersion(withIfMatch(tag))).toEqual([7]);
	});
});

describe("cursors", () => {
	it("round-trip the keyset position", () => {
		const position = { created_at: "2026-11-22T10:00:00.000Z", id: "3f0c…" };
		expect(decodeCursor(encodeCursor(position))).toEqual(position);
		expect(decodeCursor(undefined)).toBeUndefined();
		expect(() => decodeCursor("!!")).toThrow();
	});
});
