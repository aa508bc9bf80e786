import { openSecret } from "./secrets";
import { webhookSigningKey } from "./signing";

/**
 * Endpoints' signing keys, opened and imported once per isolate instead of once per attempt
 * (an AES key import, a decryption and an HMAC key import each). Keyed by the sealed secret:
 * a rotated secret is sealed afresh under a new IV, so it is a new entry and the old key
 * never signs for it. The values are non-extractable CryptoKeys, not the secrets' text, and
 * resolved keys only: a pending promise shared between two requests' handlers is not.
 */
const keys = new Map<string, CryptoKey>();
/** More endpoints than one isolate signs for at a time; the least recently used go first. */
const MAX_KEYS = 1_000;

export async function signingKeyFor(env: Env, sealed: string): Promise<CryptoKey> {
	// The sealing key is part of the entry: the same ciphertext opens to another secret under another key.
	const entry = `${env.WEBHOOK_SECRET_KEY ?? ""}\n${sealed}`;
	const cached = keys.get(entry);
	if (cached) {
		keys.delete(entry);
		keys.set(entry, cached);
		return cached;
	}
	const key = await webhookSigningKey(await openSecret(env, sealed));
	keys.set(entry, key);
	if (keys.size > MAX_KEYS) {
		const oldest = keys.keys().next().value;
		if (oldest !== undefined) keys.delete(oldest);
	}
	return key;
}
