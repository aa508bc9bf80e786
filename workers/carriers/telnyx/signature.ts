/**
 * Telnyx webhook signatures (API v2): Telnyx signs `{telnyx-timestamp}|{raw body}` with its
 * Ed25519 private key; the base64 signature comes in `telnyx-signature-ed25519`, the Unix
 * seconds in `telnyx-timestamp`. Verified with the account's public key (TELNYX_PUBLIC_KEY,
 * base64 of the raw 32-byte key, from Mission Control → Keys & Credentials → Public Key).
 *
 * Checks exactly what Telnyx's own libraries check (`telnyx` for Node, `TelnyxWebhook.verify`):
 * both headers present, a timestamp of digits within 300 s of now either way, a strict padded
 * base64 signature of 64 bytes, and the Ed25519 verification. No secret is compared as a
 * string here: Ed25519 verification is the only comparison, done by WebCrypto.
 */

export const TELNYX_SIGNATURE_HEADER = "telnyx-signature-ed25519";
export const TELNYX_TIMESTAMP_HEADER = "telnyx-timestamp";
/** As Telnyx's libraries allow: a signature older or newer than this is refused (replays). */
export const TELNYX_TOLERANCE_SECONDS = 300;

export type SignatureCheck = { ok: true } | { ok: false; reason: "missing" | "malformed" | "stale" | "mismatch" | "no-key" };

const encoder = new TextEncoder();

/** Strict, padded base64 (what Telnyx sends and its libraries accept); null for anything else. */
export function decodeBase64Strict(value: string): Uint8Array | null {
	if (value.length === 0 || value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) return null;
	try {
		const binary = atob(value);
		return Uint8Array.from(binary, (char) => char.charCodeAt(0));
	} catch {
		return null;
	}
}

const keys = new Map<string, Promise<CryptoKey | null>>();

/** The public key, imported once per isolate; null when it is not 32 raw bytes of base64. */
function publicKey(base64: string): Promise<CryptoKey | null> {
	let key = keys.get(base64);
	if (!key) {
		const raw = decodeBase64Strict(base64);
		key =
			raw?.length === 32
				? crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]).catch(() => null)
				: Promise.resolve(null);
		keys.set(base64, key);
	}
	return key;
}

/** Verifies one delivery: the raw body exactly as received, the two headers, the key, and now (ms). */
export async function verifyTelnyxSignature(
	publicKeyBase64: string | undefined,
	body: string,
	signature: string | null,
	timestamp: string | null,
	now = Date.now(),
): Promise<SignatureCheck> {
	if (!publicKeyBase64) return { ok: false, reason: "no-key" };
	if (!signature || !timestamp) return { ok: false, reason: "missing" };
	if (!/^\d{1,15}$/.test(timestamp)) return { ok: false, reason: "malformed" };
	if (Math.abs(Math.floor(now / 1000) - Number(timestamp)) > TELNYX_TOLERANCE_SECONDS) return { ok: false, reason: "stale" };
	const signatureBytes = decodeBase64Strict(signature);
	if (signatureBytes?.length !== 64) return { ok: false, reason: "malformed" };
	const key = await publicKey(publicKeyBase64);
	if (!key) return { ok: false, reason: "no-key" };
	const valid = await crypto.subtle
		.verify("Ed25519", key, signatureBytes, encoder.encode(`${timestamp}|${body}`))
		.catch(() => false);
	return valid ? { ok: true } : { ok: false, reason: "mismatch" };
}
