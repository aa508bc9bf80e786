import { describe, expect, it } from "vitest";
import { isValidTimeZone } from "../../durable-objects/campaign/schedule";
import { recipientZones, zoneKey, zonesOfKey, zonesOfNumber } from "../../workers/compliance/recipient-zone";
import { COUNTRY_GROUPS, NANP_GROUPS, ZONE_NAMES } from "../../workers/compliance/zone-table";

describe("recipient zone from the number", () => {
	it("a country with one clock: its zone", () => {
		expect(zonesOfNumber("+33123456789")).toEqual(["Europe/Paris"]);
		expect(zonesOfNumber("+81312345678")).toEqual(["Asia/Tokyo"]);
		expect(zonesOfNumber("+84987654321")).toEqual(["Asia/Saigon"]);
		// The UK and the crown dependencies keep one clock: a Jersey number is London time.
		expect(zonesOfNumber("+442071234567")).toEqual(["Europe/London"]);
		expect(zonesOfNumber("+441534123456")).toEqual(["Europe/London"]);
		// CLDR's zone, not libphonenumber's Europe/Paris, which keeps summer time Algeria does not.
		expect(zonesOfNumber("+213551234567")).toEqual(["Africa/Algiers"]);
	});

	it("NANP: the area code's zone, across the continent", () => {
		expect(zonesOfNumber("+12125550123")).toEqual(["America/New_York"]);
		expect(zonesOfNumber("+13125550123")).toEqual(["America/Chicago"]);
		expect(zonesOfNumber("+13035550123")).toEqual(["America/Denver"]);
		// Arizona keeps standard time all year: its own zone, not Denver's.
		expect(zonesOfNumber("+16025550123")).toEqual(["America/Phoenix"]);
		expect(zonesOfNumber("+14155550123")).toEqual(["America/Los_Angeles"]);
		expect(zonesOfNumber("+18085550123")).toEqual(["Pacific/Honolulu"]);
		// Canada and the Caribbean share +1.
		expect(zonesOfNumber("+14165550123")).toEqual(["America/Toronto"]);
		expect(zonesOfNumber("+18765550123")).toEqual(["America/Jamaica"]);
	});

	it("NANP: an exchange the data places in another zone than its area code", () => {
		// 219 is Eastern by its area code, but Gary's exchanges are Central.
		expect(zonesOfNumber("+12195550123")).toEqual(["America/New_York"]);
		expect(zonesOfNumber("+12192261234")).toEqual(["America/Chicago"]);
		// An Anchorage exchange: the data says Juneau, which keeps Anchorage's clock.
		expect(zonesOfNumber("+19075621234")).toEqual(["America/Juneau"]);
	});

	it("NANP: an area code spanning zones gives all of them (the call waits for each)", () => {
		expect(zonesOfNumber("+19075550123")).toEqual(["America/Adak", "America/Anchorage"]);
		expect(zonesOfNumber("+17015550123")).toEqual(["America/Denver", "America/North_Dakota/Center"]);
	});

	it("a country with several clocks, a non-geographic or unlisted number, or no number at all: unknown", () => {
		expect(zonesOfNumber("+79161234567")).toEqual([]); // Russian mobile
		expect(zonesOfNumber("+61412345678")).toEqual([]); // Australian mobile
		expect(zonesOfNumber("+5511912345678")).toEqual([]); // Brazilian mobile
		expect(zonesOfNumber("+61212345678")).toEqual([]); // Sydney landline: Australia is multi-zone, no finer rule
		expect(zonesOfNumber("+8613812345678")).toEqual([]); // China: CLDR lists Asia/Urumqi beside Asia/Shanghai
		expect(zonesOfNumber("+525512345678")).toEqual([]); // Mexico
		expect(zonesOfNumber("+18005550123")).toEqual([]); // toll-free
		expect(zonesOfNumber("+80012345678")).toEqual([]); // international freephone
		expect(zonesOfNumber("12125550123")).toEqual([]);
		expect(zonesOfNumber("+0123456789")).toEqual([]);
		expect(zonesOfNumber("")).toEqual([]);
		expect(zonesOfNumber("+1212")).toEqual([]);
	});

	it("an explicit timezone wins; an invalid one is ignored", () => {
		expect(recipientZones("+12125550123", "Europe/Berlin")).toEqual(["Europe/Berlin"]);
		expect(recipientZones("+12125550123", null)).toEqual(["America/New_York"]);
		expect(recipientZones("+12125550123", "Mars/Olympus")).toEqual(["America/New_York"]);
		expect(recipientZones("+79161234567", undefined)).toEqual([]);
	});

	it("the pacer's key round-trips", () => {
		expect(zoneKey(["America/Adak", "America/Anchorage"])).toBe("America/Adak&America/Anchorage");
		expect(zoneKey([])).toBeNull();
		expect(zonesOfKey("America/Adak&America/Anchorage")).toEqual(["America/Adak", "America/Anchorage"]);
		expect(zonesOfKey(null)).toEqual([]);
	});
});

describe("the generated table", () => {
	it("names only zones this runtime knows", () => {
		const unknown = ZONE_NAMES.filter((zone) => !isValidTimeZone(zone));
		expect(unknown).toEqual([]);
	});

	it("is well formed: every group's indexes name a zone, no prefix twice", () => {
		const seen = new Set<string>();
		for (const group of [...COUNTRY_GROUPS.map((g) => `c${g}`), ...NANP_GROUPS.map((g) => `n${g}`)]) {
			const [indexes = "", prefixes = ""] = group.slice(1).split("|");
			for (const index of indexes.split(".")) expect(ZONE_NAMES[Number(index)], group.slice(0, 40)).toBeDefined();
			for (const prefix of prefixes.split(" ")) {
				const key = `${group[0]}${prefix}`;
				expect(seen.has(key), key).toBe(false);
				seen.add(key);
			}
		}
		expect(seen.size).toBeGreaterThan(2000);
	});
});
