import { isValidTimeZone } from "../../durable-objects/campaign/schedule";
import { COUNTRY_GROUPS, NANP_GROUPS, ZONE_NAMES } from "./zone-table";

/**
 * Where a call's recipient is, in time: the zones whose local hours a call to them must
 * respect. A contact's or lead's own `timezone` wins; otherwise the number says it (the
 * generated table, see scripts/build-recipient-zones.mjs):
 * - outside +1, the country's zone when the country keeps one clock;
 * - for +1 (NANP), the area code's zone, or the exchange's where libphonenumber knows it
 *   better. Where a prefix spans zones (907 Alaska: Adak and Anchorage) all of them are
 *   given: a call waits until the recipient hours are open in each, so it is inside them
 *   wherever in that area the phone is. Picking one would break the hours at one end or the
 *   other (the data lists zones alphabetically, not by population), and calling it unknown
 *   would hand it to the campaign's zone, which may be far off;
 * - else unknown: an empty list (the account's `unknown_timezone` decides).
 */

type Table = { countries: Map<string, string>; nanp: Map<string, readonly string[]> };
let table: Table | undefined;

/** Parsed on first use, not when the module loads: most requests never derive a zone. */
function lookup(): Table {
	if (table) return table;
	const zone = (index: string) => ZONE_NAMES[Number(index)] ?? "";
	const countries = new Map<string, string>();
	for (const group of COUNTRY_GROUPS) {
		const [index = "", prefixes = ""] = group.split("|");
		for (const code of prefixes.split(" ")) countries.set(code, zone(index));
	}
	const nanp = new Map<string, readonly string[]>();
	for (const group of NANP_GROUPS) {
		const [indexes = "", prefixes = ""] = group.split("|");
		const zones = Object.freeze(indexes.split(".").map(zone));
		for (const prefix of prefixes.split(" ")) nanp.set(prefix, zones);
	}
	table = { countries, nanp };
	return table;
}

const E164 = /^\+[1-9]\d{6,14}$/;
/** NANP prefixes in the table are 3 (area code) to 6 digits (area code and exchange). */
const NANP_LONGEST = 6;
const NANP_SHORTEST = 3;

/** The zones a number's recipient may be in, from the number alone; empty when unknown. */
export function zonesOfNumber(e164: string): readonly string[] {
	if (!E164.test(e164)) return [];
	const digits = e164.slice(1);
	const { countries, nanp } = lookup();
	if (digits.startsWith("1")) {
		const national = digits.slice(1);
		for (let length = NANP_LONGEST; length >= NANP_SHORTEST; length--) {
			const zones = nanp.get(national.slice(0, length));
			if (zones) return zones;
		}
		return [];
	}
	// Calling codes are prefix-free (1–3 digits): at most one of these is a code, and a code
	// left out of the table (a country with several clocks) leaves the number unknown.
	for (let length = 1; length <= 3; length++) {
		const zone = countries.get(digits.slice(0, length));
		if (zone) return [zone];
	}
	return [];
}

/** The zones a call to this recipient respects: its own `timezone`, else the number's. */
export function recipientZones(phone: string, timezone: string | null | undefined): readonly string[] {
	if (timezone && isValidTimeZone(timezone)) return [timezone];
	return zonesOfNumber(phone);
}

/**
 * The pacer's key for a recipient's zones: one zone, several joined with `&` (as
 * libphonenumber writes them), or null when unknown.
 */
export function zoneKey(zones: readonly string[]): string | null {
	return zones.length ? zones.join("&") : null;
}

export const zonesOfKey = (key: string | null): string[] => (key ? key.split("&") : []);
