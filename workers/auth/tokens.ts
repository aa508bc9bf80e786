import { randomBytes, sha256HexSync, toBase64Url } from "../lib/crypto";

/** Session tokens come from login; API tokens are named, long-lived, for integrations. */
export const TOKEN_PREFIX = { session: "cgs_", api: "cgk_" } as const;

export const SESSION_TTL_MS = 24 * 60 * 60 * 1000;

export function newTokenSecret(kind: keyof typeof TOKEN_PREFIX): string {
	return TOKEN_PREFIX[kind] + toBase64Url(randomBytes(32));
}

/**
 * Tokens are stored only as this hash; 256 random bits need no salt or slow hash. Synchronous
 * (pure JavaScript SHA-256): it runs on every request, where crypto.subtle's promise cost more
 * than the digest of 50 bytes.
 */
export const hashToken = (secret: string): string => sha256HexSync(`callgate-token:${secret}`);

export function bearerToken(request: Request): string | undefined {
	const header = request.headers.get("Authorization");
	const match = header?.match(/^Bearer\s+([A-Za-z0-9_\-.~+/]+=*)\s*$/i);
	return match?.[1];
}
