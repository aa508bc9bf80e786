import { idempotencyStoreName, type StoredResponse } from "../../durable-objects/idempotency-store";
import { ApiError } from "../http/errors";
import { DAY } from "../lib/time";

export const IDEMPOTENCY_TTL_MS = DAY;
/** A first request holding its key longer than this is presumed dead; a retry may take over. */
export const IDEMPOTENCY_LOCK_MS = 30_000;

/** Headers that are part of what a replay must repeat. */
const REPLAYED_HEADERS = ["content-type", "location", "etag"];

/** Responses a retry must be free to redo: refusals and failures. */
const isFinal = (status: number) => status < 500 && status !== 409 && status !== 429;

export interface IdempotencyUse {
	key: string;
	/** When the key's claim expires: the record's 24 hours, so that D1 and the record agree. */
	expiresAt: number;
	/** The record's clock when this attempt took the key; a claim that expired by then is the key's previous life. */
	now: number;
}

/**
 * Runs `handle` at most once per (account, key): concurrent copies get 409, later copies the
 * first response with `Idempotent-Replayed: true`, another body under the same key a 422.
 * The store only coordinates attempts; what makes a committed write final is its D1 claim
 * (see `createOnce`), so a failure to talk to the store after the handler ran never turns
 * the handler's answer into a 5xx. The response is kept before the answer leaves, though: a
 * client holding its answer must get the replay, never a 409, and routes that write no claim
 * (the campaign actions) have nothing else that stops a retry from running them again.
 */
export async function once(
	env: Env,
	scope: string,
	key: string,
	fingerprint: string,
	handle: (use: IdempotencyUse) => Promise<Response>,
): Promise<Response> {
	const record = env.IDEMPOTENCY.get(env.IDEMPOTENCY.idFromName(idempotencyStoreName(scope, key)));
	const begun = await record.begin(key, fingerprint, IDEMPOTENCY_LOCK_MS, IDEMPOTENCY_TTL_MS);
	switch (begun.kind) {
		case "mismatch":
			throw new ApiError(422, "Idempotency-Key was used with a different body.");
		case "in-flight":
			throw new ApiError(409, "A request with this Idempotency-Key is still being processed.", undefined, {
				"Retry-After": String(begun.retryAfterSeconds),
			});
		case "replay":
			return replayed(begun.response);
	}
	// Left holding, the key stays locked until the lease lapses; then a retry runs and finds
	// through the D1 claim whatever this attempt committed.
	const release = () => quietly("release", record.release(key, begun.holder));
	let response: Response;
	try {
		response = await handle({ key, expiresAt: begun.expiresAt, now: begun.now });
	} catch (error) {
		await release();
		throw error;
	}
	if (!isFinal(response.status)) {
		await release();
		return response;
	}
	const stored: StoredResponse = {
		status: response.status,
		headers: Object.fromEntries([...response.headers].filter(([name]) => REPLAYED_HEADERS.includes(name.toLowerCase()))),
		body: await response.text(),
	};
	await quietly("complete", record.complete(key, begun.holder, stored));
	return new Response(stored.body, { status: stored.status, headers: response.headers });
}

async function quietly(step: string, done: Promise<unknown>): Promise<void> {
	try {
		await done;
	} catch (error) {
		console.warn(`idempotency ${step} failed`, error instanceof Error ? error.message : String(error));
	}
}

function replayed(stored: StoredResponse): Response {
	const headers = new Headers(stored.headers);
	headers.set("Idempotent-Replayed", "true");
	return new Response(stored.body, { status: stored.status, headers });
}
