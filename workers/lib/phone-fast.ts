import { Metadata } from "libphonenumber-js/max";

/**
 * libphonenumber-js's answer for the numbers imports are made of — ASCII digits in national
 * format, or `+` and digits — without its general parser, which costs about 10 µs a number
 * (most of a 100,000-row import's CPU time). It is the library's own steps for those inputs
 * (extractCountryCallingCode, extractNationalNumber, getNumberType: see the comments), run on
 * its metadata with the regular expressions compiled once per country. Only countries whose
 * rules need no more than that qualify: one country on the calling code, a national prefix of
 * plain digits and no transform rule. Anything else is `undefined`, and the caller asks the
 * library. test/unit/phone-fast.test.ts holds it to the library's answers, country by country.
 */
export function fastE164(input: string, region: string): string | null | undefined {
	let plan: Plan | undefined;
	let digits: string;
	if (input.charCodeAt(0) === PLUS) {
		if (!INTERNATIONAL.test(input)) return undefined;
		// extractCountryCallingCode: the first 1-3 digits that are a calling code.
		let callingCode: string | undefined;
		for (let length = 1; length <= 3 && !callingCode; length++) {
			const prefix = input.slice(1, 1 + length);
			if (metadata().hasCallingCode(prefix)) callingCode = prefix;
		}
		const countries = callingCode ? metadata().getCountryCodesForCallingCode(callingCode) : undefined;
		if (!callingCode || countries?.length !== 1) return undefined;
		plan = planOf(countries[0] as string);
		digits = input.slice(1 + callingCode.length);
	} else {
		if (!NATIONAL.test(input)) return undefined;
		plan = planOf(region);
		// The library would read an international prefix (stripIddPrefix) or a calling code
		// written without its + (extractCountryCallingCodeFromInternationalNumberWithoutPlusSign).
		if (!plan || input.search(plan.idd) === 0 || input.startsWith(plan.callingCode)) return undefined;
		digits = input;
	}
	if (!plan) return undefined;
	const national = withoutNationalPrefix(digits, plan);
	// parse(): MIN_LENGTH_FOR_NSN, MAX_LENGTH_FOR_NSN.
	if (national.length < 2 || national.length > 17) return null;
	return isValidNational(national, plan) ? `+${plan.callingCode}${national}` : null;
}

const PLUS = 43;
const NATIONAL = /^[0-9]{3,17}$/;
const INTERNATIONAL = /^\+[1-9][0-9]{2,19}$/;

/** libphonenumber-js's Metadata as it is at run time (its typings show only part of it). */
interface LibraryMetadata {
	hasCountry(country: string): boolean;
	hasCallingCode(callingCode: string): boolean;
	getCountryCodesForCallingCode(callingCode: string): string[] | undefined;
	selectNumberingPlan(country: string): void;
	numberingPlan?: {
		callingCode(): string;
		IDDPrefix(): string;
		nationalNumberPattern(): string;
		possibleLengths(): number[] | undefined;
		nationalPrefixForParsing(): string | undefined;
		nationalPrefixTransformRule(): string | undefined;
		hasTypes(): boolean;
		type(type: string): { pattern(): string; possibleLengths(): number[] | undefined } | undefined;
	};
}

interface Plan {
	callingCode: string;
	idd: RegExp;
	nationalPrefix: string;
	general: RegExp;
	lengths: number[] | undefined;
	types: { pattern: RegExp; lengths: number[] | undefined }[];
}

const TYPES = [
	"FIXED_LINE",
	"MOBILE",
	"PREMIUM_RATE",
	"TOLL_FREE",
	"SHARED_COST",
	"VOIP",
	"PERSONAL_NUMBER",
	"PAGER",
	"UAN",
	"VOICEMAIL",
] as const;

let library: LibraryMetadata | undefined;
const metadata = () => {
	library ??= new (Metadata as unknown as new () => LibraryMetadata)();
	return library;
};

const plans = new Map<string, Plan | undefined>();

function planOf(country: string): Plan | undefined {
	if (!plans.has(country)) plans.set(country, compile(country));
	return plans.get(country);
}

function compile(country: string): Plan | undefined {
	try {
		const all = metadata();
		if (country === "001" || !all.hasCountry(country)) return undefined;
		all.selectNumberingPlan(country);
		const plan = all.numberingPlan;
		if (!plan?.hasTypes() || plan.nationalPrefixTransformRule()) return undefined;
		const callingCode = plan.callingCode();
		if (all.getCountryCodesForCallingCode(callingCode)?.length !== 1) return undefined;
		const nationalPrefix = plan.nationalPrefixForParsing() ?? "";
		if (!/^[0-9]*$/.test(nationalPrefix)) return undefined;
		const lengths = plan.possibleLengths();
		const types = TYPES.flatMap((name) => {
			const type = plan.type(name);
			const pattern = type?.pattern();
			return type && pattern ? [{ pattern: entirely(pattern), lengths: type.possibleLengths() }] : [];
		});
		return {
			callingCode,
			idd: new RegExp(plan.IDDPrefix()),
			nationalPrefix,
			general: entirely(plan.nationalNumberPattern()),
			lengths,
			types,
		};
	} catch {
		// Metadata not shaped as this module expects (another library version): the library decides.
		return undefined;
	}
}

/** matchesEntirely. */
const entirely = (pattern: string) => new RegExp(`^(?:${pattern})$`);

/**
 * extractNationalNumber with a national prefix of plain digits: the prefix goes unless the
 * number matched the national pattern only with it, or what is left cannot be a whole number.
 */
function withoutNationalPrefix(digits: string, plan: Plan): string {
	if (!plan.nationalPrefix || !digits.startsWith(plan.nationalPrefix)) return digits;
	const rest = digits.slice(plan.nationalPrefix.length);
	if (plan.general.test(digits) && !plan.general.test(rest)) return digits;
	if (plan.lengths) {
		const length = lengthCheck(rest.length, plan.lengths);
		if (length === "TOO_SHORT" || length === "INVALID_LENGTH") return digits;
	}
	return rest;
}

/** checkNumberLength. */
function lengthCheck(length: number, lengths: number[]): "IS_POSSIBLE" | "TOO_SHORT" | "TOO_LONG" | "INVALID_LENGTH" {
	const shortest = lengths[0] as number;
	if (shortest === length) return "IS_POSSIBLE";
	if (shortest > length) return "TOO_SHORT";
	if ((lengths[lengths.length - 1] as number) < length) return "TOO_LONG";
	return lengths.indexOf(length, 1) >= 0 ? "IS_POSSIBLE" : "INVALID_LENGTH";
}

/** isValidNumber: getNumberType finds a type (each type's own lengths, else the country's). */
function isValidNational(national: string, plan: Plan): boolean {
	if (!plan.general.test(national)) return false;
	for (const type of plan.types) {
		const lengths = type.lengths ?? plan.lengths;
		if (lengths && !lengths.includes(national.length)) continue;
		if (type.pattern.test(national)) return true;
	}
	return false;
}
