import { fromBase64Url, toBase64 } from "../lib/crypto";
import { hmacSha256 } from "../lib/signatures";

/** Standard Webhooks: secrets are `whsec_` + base64 key bytes. */
export const SECRET_PREFIX = "whsec_";

function keyOf(secret: string): Uint8Array {
	return fromBase64Url(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, per the Standard Webhooks spec. */
export async function signWebhook(secret: string, id: string, timestamp: number, body: string): Promise<string> {
	return `v1,${toBase64(await hmacSha256(keyOf(secret), `${id}.${timestamp}.${body}`))}`;
}

export async function webhookHeaders(
	secret: string,
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
