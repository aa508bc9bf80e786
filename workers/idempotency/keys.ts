import { ApiError } from "../http/errors";
import { sha256Hex } from "../lib/crypto";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

export const IDEMPOTENCY_HEADERS = ["Idempotency-Key", "X-Idempotency-Key"] as const;

/** The request's key, if it sent one; anything but a UUID v4 is a 400. */
export function idempotencyKeyOf(request: Request): string | undefined {
	const primary = request.headers.get(IDEMPOTENCY_HEADERS[0]);
	const alias = request.headers.get(IDEMPOTENCY_HEADERS[1]);
	const key = primary ?? alias;
	if (key === null) return undefined;
	if (primary !== null && alias !== null && primary.trim().toLowerCase() !== alias.trim().toLowerCase()) {
		throw new ApiError(400, "Idempotency-Key and X-Idempotency-Key disagree; send one of them.");
	}
	if (!UUID_V4.test(key.trim())) throw new ApiError(400, "Idempotency-Key must be a UUID v4.");
	return key.trim().toLowerCase();
}

/** What makes two requests "the same": method, path and the exact body bytes. */
export const requestFingerprint = (method: string, path: string, body: string) => sha256Hex(`${method} ${path}\n${body}`);
