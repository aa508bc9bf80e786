import { fromBase64Url, toBase64 } from "../lib/crypto";

/** Standard Webhooks: secrets are `whsec_` + base64 key bytes. */
export const SECRET_PREFIX = "whsec_";

const encoder = new TextEncoder();

function keyOf(secret: string): Uint8Array {
	return fromBase64Url(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
}

/** The HMAC-SHA256 key of a `whsec_` secret, imported once so that many signatures can share it. */
export function webhookSigningKey(secret: string): Promise<CryptoKey> {
	return crypto.subtle.importKey("raw", keyOf(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, per the Standard Webhooks spec. */
export async function signWebhook(secret: string | CryptoKey, id: string, timestamp: number, body: string): Promise<string> {
	const key = typeof secret === "string" ? await webhookSigningKey(secret) : secret;
	return `v1,${toBase64(await crypto.subtle.sign("HMAC", key, encoder.encode(`${id}.${timestamp}.${body}`)))}`;
}

export async function webhookHeaders(
	secret: string | CryptoKey,
	id: string,
	body: string,
	now = Date.now(),
): Promise<Record<string, string>> {
	const timestamp = Math.floor(now / 1000);
	return {
		"Content-Type": "application/json",
		"webhook-id": id,
		"webhook-timestamp": String(timestamp),
		"webhook-signature": await signWebhook(secret, id, timestamp, body),
	};
}
