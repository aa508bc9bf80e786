import {
	type CountryCode,
	getCountries,
	getCountryCallingCode,
	getExampleNumber,
	parsePhoneNumberFromString,
} from "libphonenumber-js/max";
import examples from "libphonenumber-js/mobile/examples";
import { describe, expect, it } from "vitest";
import { toE164 } from "../../workers/lib/phone";
import { fastE164 } from "../../workers/lib/phone-fast";

/** What toE164 answered before the fast path: the library's parse, valid or null. */
function library(input: string, region: string): string | null {
	const parsed = parsePhoneNumberFromString(input.trim(), region as CountryCode);
	return parsed?.isValid() ? parsed.number : null;
}

/** A fixed sequence (the same table on every run). */
function sequence(seed: number) {
	let state = seed;
	return () => {
		state = (state * 1_103_515_245 + 12_345) & 0x7fff_ffff;
		return state / 0x8000_0000;
	};
}

/**
 * Per country: its example mobile number written every way an import might (national, with
 * a national prefix, with an international prefix, with the calling code with or without +),
 * each with digits changed, added and dropped, and digit strings of every length that start
 * like them — numbers on both sides of every validity rule.
 */
function table(perCountry: number): { region: string; input: string }[] {
	const random = sequence(11);
	const digit = () => String(Math.floor(random() * 10));
	const rows: { region: string; input: string }[] = [];
	for (const region of getCountries()) {
		const national = getExampleNumber(region, examples)?.nationalNumber ?? "";
		const code = getCountryCallingCode(region);
		const bases = [
			national,
			`0${national}`,
			`1${national}`,
			`8${national}`,
			`00${national}`,
			`${code}${national}`,
			`+${code}${national}`,
			`+${code}0${national}`,
		];
		const inputs = new Set(bases.filter(Boolean));
		for (let n = 0; n < perCountry; n++) {
			const base = bases[n % bases.length] as string;
			const plus = base.startsWith("+") ? 1 : 0;
			const chars = base.split("");
			const at = plus + Math.floor(random() * Math.max(1, chars.length - plus));
			const change = n % 4;
			if (change === 0) chars[at] = digit();
			else if (change === 1) chars.splice(at, 0, digit());
			else if (change === 2) chars.splice(at, 1);
			else chars.splice(at, 2, digit(), digit());
			inputs.add(chars.join(""));
			let prefix = base.slice(0, 1 + Math.floor(random() * 5));
			const length = 3 + Math.floor(random() * 16);
			while (prefix.length < length) prefix += digit();
			inputs.add(prefix);
		}
		for (const input of inputs) rows.push({ region, input });
	}
	return rows;
}

describe("fast E.164 path", () => {
	it("agrees with libphonenumber-js wherever it answers, in every country", () => {
		const rows = table(120);
		const answered = rows.filter(({ input, region }) => fastE164(input, region) !== undefined);
		const disagreements = answered
			.map(({ input, region }) => ({ region, input, fast: fastE164(input, region), library: library(input, region) }))
			.filter((row) => row.fast !== row.library);
		expect(disagreements).toEqual([]);
		// It answers most of them (valid and invalid alike), else it would not save anything.
		expect(answered.length).toBeGreaterThan(rows.length / 2);
		expect(new Set(answered.filter((row) => fastE164(row.input, row.region)).map((row) => row.region)).size).toBeGreaterThan(200);
	});

	it("answers the usual shapes itself and leaves the rest to the library", () => {
		expect(fastE164("0987654321", "VN")).toBe("+84987654321");
		expect(fastE164("+84987654321", "VN")).toBe("+84987654321");
		expect(fastE164("+14155550123", "VN")).toBeUndefined(); // +1 is shared by 25 countries
		expect(fastE164("020 7946 0958", "GB")).toBeUndefined(); // not bare digits
		expect(fastE164("0012025550123", "VN")).toBeUndefined(); // an international prefix
		expect(fastE164("84987654321", "VN")).toBeUndefined(); // the calling code without +
		expect(fastE164("0987654321", "XX")).toBeUndefined(); // not a region the library knows
		expect(fastE164("0912", "VN")).toBeNull();
		expect(fastE164("0212345678", "VN")).toBeNull();
	});

	it("toE164 answers as the library does, with or without the fast path", () => {
		for (const [input, region] of [
			[" 0987654321 ", "VN"],
			["+1 415 555 0123", "VN"],
			["(415) 555-0123", "US"],
			["0987654321", "US"],
			["020 7946 0958", "GB"],
			["not a phone", "VN"],
		] as const) {
			expect(toE164(input, region)).toBe(library(input, region));
		}
	});
});
