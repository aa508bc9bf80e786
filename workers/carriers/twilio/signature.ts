import { constantTimeEqual, toBase64 } from "../../lib/crypto";

/**
 * X-Twilio-Signature, as Twilio documents it (docs/usage/webhooks/webhooks-security): the full
 * URL Twilio requested (scheme, host, path and query exactly as given to Twilio), then every
 * POST parameter's name and value appended with no delimiters, the names in case-sensitive
 * sorted order; HMAC-SHA1 keyed with the account's auth token; base64.
 *
 * A name sent more than once (Twilio sends none such in the callbacks callgate asks for) is
 * appended once per distinct value, values sorted, as the official library does.
 */
export async function twilioSignature(authToken: string, url: string, params: readonly (readonly [string, string])[]) {
	const byName = new Map<string, Set<string>>();
	for (const [name, value] of params) byName.set(name, (byName.get(name) ?? new Set()).add(value));
	let data = url;
	for (const name of [...byName.keys()].sort(codeUnitOrder)) {
		for (const value of [...(byName.get(name) ?? [])].sort(codeUnitOrder)) data += name + value;
	}
	const encoder = new TextEncoder();
	const key = await crypto.subtle.importKey("raw", encoder.encode(authToken), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
	return toBase64(await crypto.subtle.sign("HMAC", key, encoder.encode(data)));
}

/** Unix-style, case-sensitive: by UTF-16 code unit, which is what `Array.prototype.sort` does by default. */
const codeUnitOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The spellings of one URL Twilio may have signed: as given, and with the scheme's default
 * port written out or left off (the official library accepts either, for the same reason).
 */
export function urlSpellings(url: string): string[] {
	const match = /^(https?):\/\/([^/?#:]+)(?::(\d+))?(.*)$/i.exec(url);
	if (!match) return [url];
	const [, scheme = "", host = "", port, rest = ""] = match;
	const defaultPort = scheme.toLowerCase() === "https" ? "443" : "80";
	if (port !== undefined && port !== defaultPort) return [url];
	return [`${scheme}://${host}${rest}`, `${scheme}://${host}:${defaultPort}${rest}`];
}

/**
 * Whether `header` is Twilio's signature of this request for one of the candidate URLs (the
 * URLs callgate itself gave Twilio for it). Constant-time per comparison; an empty token or a
 * missing header never verifies.
 */
export async function verifyTwilioSignature(
	authToken: string,
	header: string | null,
	candidateUrls: readonly string[],
	params: readonly (readonly [string, string])[],
): Promise<boolean> {
	if (!authToken || !header) return false;
	let valid = false;
	for (const url of candidateUrls.flatMap(urlSpellings)) {
		// Every candidate is computed and compared: the time taken says nothing of which matched.
		if (constantTimeEqual(await twilioSignature(authToken, url, params), header)) valid = true;
	}
	return valid;
}
