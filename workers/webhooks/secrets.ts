import { fromBase64Url, randomBytes, toBase64 } from "../lib/crypto";
import { SECRET_PREFIX } from "./signing";

export const newWebhookSecret = () => SECRET_PREFIX + toBase64(randomBytes(24));

async function key(env: Env): Promise<CryptoKey> {
	if (!env.WEBHOOK_SECRET_KEY) throw new Error("WEBHOOK_SECRET_KEY is not set");
	return crypto.subtle.importKey("raw", fromBase64Url(env.WEBHOOK_SECRET_KEY), "AES-GCM", false, ["encrypt", "decrypt"]);
}

/**
 * Signing needs the secret itself, so it cannot be hashed like a token: it is encrypted at
 * rest (AES-GCM, fresh IV each time) under a key that lives only in the Worker's secrets.
 */
export async function sealSecret(env: Env, secret: string): Promise<string> {
	const iv = randomBytes(12);
	const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await key(env), new TextEncoder().encode(secret));
	return `${toBase64(iv)}.${toBase64(new Uint8Array(sealed))}`;
}

export async function openSecret(env: Env, sealed: string): Promise<string> {
	const [iv, data] = sealed.split(".").map((part) => fromBase64Url(part));
	if (!iv || !data) throw new Error("malformed sealed secret");
	return new TextDecoder().decode(await crypto.subtle.decrypt({ name: "AES-GCM", iv }, await key(env), data));
}
