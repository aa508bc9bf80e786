/** What a replay sends back: the first response, byte for byte. */
export interface StoredResponse {
	status: number;
	headers: Record<string, string>;
	body: string;
}

export type BeginResult =
	/**
	 * `holder` names this attempt: only it may complete or release the key. `now` is the
	 * store's clock: a database claim that expired by then belongs to the key's previous life.
	 */
	| { kind: "proceed"; holder: string; now: number; expiresAt: number }
	| { kind: "replay"; response: StoredResponse }
	| { kind: "in-flight"; retryAfterSeconds: number }
	| { kind: "mismatch" };

/** One key's life: taken by an attempt, released by a failed one, done once a response is cached. */
export type Entry =
	| { state: "processing"; fingerprint: string; holder: string; lockedUntil: number; expiresAt: number }
	/** An attempt failed; the key keeps its body and its life, and the next attempt may run. */
	| { state: "released"; fingerprint: string; expiresAt: number }
	| { state: "done"; fingerprint: string; response: StoredResponse; expiresAt: number };

/**
 * What `begin` answers for a key in state `entry` (undefined: unknown or expired), and the
 * entry to store when the attempt may proceed. Pure, so the rules are tested on their own.
 */
export function decideBegin(
	entry: Entry | undefined,
	fingerprint: string,
	now: number,
	lockMs: number,
	ttlMs: number,
	newHolder: () => string,
): { result: BeginResult; store?: Entry } {
	if (entry && entry.fingerprint !== fingerprint) return { result: { kind: "mismatch" } };
	if (entry?.state === "done") return { result: { kind: "replay", response: entry.response } };
	if (entry?.state === "processing" && entry.lockedUntil > now) {
		return { result: { kind: "in-flight", retryAfterSeconds: Math.max(1, Math.ceil((entry.lockedUntil - now) / 1000)) } };
	}
	const expiresAt = entry?.expiresAt ?? now + ttlMs;
	const holder = newHolder();
	return {
		result: { kind: "proceed", holder, now, expiresAt },
		store: { state: "processing", fingerprint, holder, lockedUntil: now + lockMs, expiresAt },
	};
}

/** The entry once `holder` finished with `response` (or failed: no response); null if `holder` no longer holds the key. */
export function finish(entry: Entry | undefined, holder: string, response?: StoredResponse): Entry | null {
	if (entry?.state !== "processing" || entry.holder !== holder) return null;
	const { fingerprint, expiresAt } = entry;
	return response ? { state: "done", fingerprint, response, expiresAt } : { state: "released", fingerprint, expiresAt };
}
