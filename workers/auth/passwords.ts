import { constantTimeEqual, randomBytes, toHex } from "../lib/crypto";

/** Workers cap PBKDF2 at 100,000 iterations; the count is stored with each hash. */
const MAX_ITERATIONS = 100_000;
const encoder = new TextEncoder();

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<string> {
	const key = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, ["deriveBits"]);
	const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256);
	return toHex(bits);
}

export function iterationsFrom(env: Env): number {
	const configured = Number(env.PASSWORD_HASH_ITERATIONS);
	return Number.isInteger(configured) && configured > 0 ? Math.min(configured, MAX_ITERATIONS) : MAX_ITERATIONS;
}

/** Format: `pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`. */
export async function hashPassword(password: string, iterations: number): Promise<string> {
	const salt = randomBytes(16);
	return `pbkdf2-sha256$${iterations}$${toHex(salt)}$${await derive(password, salt, iterations)}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
	const [scheme, iterations, saltHex, expected] = stored.split("$");
	if (scheme !== "pbkdf2-sha256" || !iterations || !saltHex || !expected) return false;
	const salt = new Uint8Array(saltHex.match(/../g)?.map((byte) => Number.parseInt(byte, 16)) ?? []);
	return constantTimeEqual(await derive(password, salt, Number(iterations)), expected);
}

/** Spends the same work as a real check so that unknown usernames answer no faster. */
export async function burnPasswordCheck(password: string, iterations: number): Promise<void> {
	await derive(password, new Uint8Array(16), iterations);
}
