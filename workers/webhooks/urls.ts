/**
 * Where webhooks may be posted. In production the Worker fetches whatever an account
 * registers, so a receiver must be a public host name over https on the default port: no IP
 * literal, no name of this machine or of a private network, no public name that only points
 * back at one (as far as the name alone tells: there is no DNS lookup here, and a name may
 * still resolve anywhere). Development also takes http to a receiver on this machine, which
 * tests and local demos use.
 */

const DEVELOPMENT_LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Names of this machine and of private networks: RFC 6761 and 8375, and RFC 6762's appendix G. */
const PRIVATE_SUFFIXES = ["localhost", "local", "localdomain", "internal", "intranet", "private", "corp", "home", "lan", "arpa"];

/** Public names that answer with loopback addresses by design. */
const LOOPBACK_NAMES = ["localtest.me", "lvh.me", "vcap.me", "lacolhost.com"];

const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;

/** Loopback, private, shared (CGNAT), link-local, "this network", benchmarking, multicast and reserved space. */
function isNonPublicIpv4([a, b]: readonly number[]): boolean {
	if (a === undefined || b === undefined) return false;
	return (
		a === 0 ||
		a === 10 ||
		a === 127 ||
		a >= 224 ||
		(a === 100 && b >= 64 && b <= 127) ||
		(a === 169 && b === 254) ||
		(a === 172 && b >= 16 && b <= 31) ||
		(a === 192 && b === 168) ||
		(a === 198 && (b === 18 || b === 19))
	);
}

/** A non-public IPv4 address spelled inside a name (`10.0.0.1.nip.io`, `10-0-0-1.sslip.io`), as wildcard DNS services resolve them. */
function embedsNonPublicIpv4(host: string): boolean {
	const labels = host.split(/[.-]/);
	for (let i = 0; i + 4 <= labels.length; i++) {
		const quad = labels.slice(i, i + 4);
		if (!quad.every((label) => /^\d{1,3}$/.test(label) && Number(label) <= 255)) continue;
		if (isNonPublicIpv4(quad.map(Number))) return true;
	}
	return false;
}

/** Loopback, unspecified, unique-local, link-local, multicast, and IPv4-mapped non-public space. */
function isNonPublicIpv6(hextets: readonly number[]): boolean {
	const [first = 0] = hextets;
	if (hextets.slice(0, 7).every((h) => h === 0) && (hextets[7] ?? 0) <= 1) return true;
	if ((first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80 || (first & 0xff00) === 0xff00) return true;
	const mapped = hextets.slice(0, 5).every((h) => h === 0) && hextets[5] === 0xffff;
	return mapped && isNonPublicIpv4([(hextets[6] ?? 0) >> 8, (hextets[6] ?? 0) & 0xff]);
}

/** The hextets of an IPv6 address, or null; the URL parser does the parsing (`::`, embedded IPv4). */
function ipv6Hextets(address: string): number[] | null {
	try {
		const host = new URL(`http://[${address}]/`).hostname.slice(1, -1);
		const [head = "", tail = ""] = host.split("::");
		const parts = (text: string) => (text ? text.split(":").map((h) => Number.parseInt(h, 16)) : []);
		const left = parts(head);
		const right = host.includes("::") ? parts(tail) : [];
		return [...left, ...Array(8 - left.length - right.length).fill(0), ...right];
	} catch {
		return null;
	}
}

/**
 * Other spellings wildcard DNS services resolve: eight hex digits for an IPv4 address
 * (`7f000001.nip.io`, `app-a9fea9fe.nip.io`) and an IPv6 address with dashes for colons
 * (`--1.sslip.io` is ::1, `fd00--1.sslip.io` is fd00::1).
 */
function embedsNonPublicAddress(host: string): boolean {
	for (const label of host.split(".")) {
		for (const part of label.split("-")) {
			if (/^[0-9a-f]{8}$/i.test(part)) {
				const value = Number.parseInt(part, 16);
				if (isNonPublicIpv4([value >>> 24, (value >>> 16) & 0xff])) return true;
			}
		}
		if (label.includes("-") && /^[0-9a-f-]+$/i.test(label)) {
			const hextets = ipv6Hextets(label.replaceAll("-", ":"));
			if (hextets && isNonPublicIpv6(hextets)) return true;
		}
	}
	return false;
}

function productionHostProblem(hostname: string): string | null {
	if (hostname.startsWith("[") || IPV4.test(hostname)) return "Must name a host, not an IP address.";
	const host = hostname.replace(/\.+$/, "");
	if (!host.includes(".")) return "Must be a fully qualified public host name.";
	if (host.split(".").some((label) => label === "")) return "Not a valid host name (an empty label).";
	const within = (name: string) => host === name || host.endsWith(`.${name}`);
	if (PRIVATE_SUFFIXES.some(within)) return "Must be a public host name, not a local or private network name.";
	if (LOOPBACK_NAMES.some(within) || embedsNonPublicIpv4(host) || embedsNonPublicAddress(host)) {
		return "Must be a public host name, not one that points to a private or loopback address.";
	}
	return null;
}

/** Why a webhook URL is refused in `environment`, or null when it is fine. */
export function webhookUrlProblem(raw: string, environment: string): string | null {
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		return "Not a URL.";
	}
	if (url.username || url.password) return "Credentials in the URL are not allowed.";
	if (environment !== "production") {
		if (url.protocol === "https:") return null;
		if (url.protocol === "http:" && DEVELOPMENT_LOCAL_HOSTS.has(url.hostname)) return null;
		return "Must be https (or http://127.0.0.1 / localhost in development).";
	}
	if (url.protocol !== "https:") return "Must be an https URL.";
	// The URL parser has already dropped an explicit :443, so any port left is another one.
	if (url.port !== "") return "Must use the default https port (443).";
	return productionHostProblem(url.hostname);
}
