import { CACHEABLE_OPERATIONS, KEYED_OPERATIONS } from "./generated/operations.js";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** Whether `key` is what the server takes as an Idempotency-Key: a UUID v4. */
export const isIdempotencyKey = (key: string) => UUID_V4.test(key);

/** A new Idempotency-Key: a random UUID v4 (crypto.randomUUID where the runtime has it). */
export function newIdempotencyKey(random: (bytes: Uint8Array) => Uint8Array = (bytes) => crypto.getRandomValues(bytes)): string {
	const bytes = random(new Uint8Array(16));
	bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
	bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
	const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
	return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** "POST /api/pbx/calls/click-to-call": an operation as the generated tables name it. */
export const operationName = (method: string, pathTemplate: string) => `${method.toUpperCase()} ${pathTemplate}`;

const keyed = new Set(KEYED_OPERATIONS);
const cacheable = new Set(CACHEABLE_OPERATIONS);

/** Whether the operation honours an Idempotency-Key (from /openapi.json). */
export const takesIdempotencyKey = (operation: string) => keyed.has(operation);

/** Whether the operation's answer may be cached and revalidated (from /openapi.json). */
export const isCacheable = (operation: string) => cacheable.has(operation);
