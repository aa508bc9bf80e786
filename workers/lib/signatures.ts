import { constantTimeEqual, toHex } from "./crypto";

const encoder = new TextEncoder();

export async function hmacSha256(secret: string | Uint8Array, message: string): Promise<ArrayBuffer> {
	const keyBytes = typeof secret === "string" ? encoder.encode(secret) : secret;
	const key = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
	return crypto.subtle.sign("HMAC", key, encoder.encode(message));
}

/** Provider requests and callbacks: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`. */
export async function signProviderPayload(secret: string, body: string, now = Date.now()): Promise<string> {
	const timestamp = Math.floor(now / 1000);
	return `t=${timestamp},v1=${toHex(await hmacSha256(secret, `${timestamp}.${body}`))}`;
}

export const SIGNATURE_TOLERANCE_SECONDS = 300;

export async function verifyProviderSignature(
	secret: string,
	body: string,
	header: string | null,
	now = Date.now(),
): Promise<boolean> {
	if (!header || !secret) return false;
	const fields = Object.fromEntries(header.split(",").map((part) => part.trim().split("=", 2) as [string, string]));
	const timestamp = Number(fields.t);
	if (!Number.isInteger(timestamp) || Math.abs(now / 1000 - timestamp) > SIGNATURE_TOLERANCE_SECONDS || !fields.v1) return false;
	const expected = toHex(await hmacSha256(secret, `${timestamp}.${body}`));
	return constantTimeEqual(expected, fields.v1);
}
