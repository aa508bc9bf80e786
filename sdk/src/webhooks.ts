/** Why a delivery was refused. */
export class WebhookVerificationError extends Error {
	override name = "WebhookVerificationError";
}

/** Request headers as a Fetch `Headers` or Node's `IncomingHttpHeaders` (lower-case names). */
export type HeadersLike = Headers | Record<string, string | string[] | undefined>;

/** A delivered event: what the stream and webhooks carry. */
export interface WebhookEvent {
	id: string;
	type: string;
	created_at: string;
	data: Record<string, unknown>;
}

export interface VerifyOptions {
	/** How far the delivery's timestamp may be from now, either way (Standard Webhooks: 5 minutes). */
	toleranceSeconds?: number;
	/** Now, in ms. */
	now?: () => number;
}

const encoder = new TextEncoder();

function header(headers: HeadersLike, name: string): string | undefined {
	if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
	const record = headers as Record<string, string | string[] | undefined>;
	const key = Object.keys(record).find((candidate) => candidate.toLowerCase() === name);
	const value = key === undefined ? undefined : record[key];
	return Array.isArray(value) ? value.join(", ") : value;
}

function base64Bytes(text: string): Uint8Array<ArrayBuffer> | undefined {
	try {
		return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
	} catch {
		return undefined;
	}
}

/** Equal bytes, in time that depends only on the lengths. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
	if (a.length !== b.length) return false;
	let difference = 0;
	for (let i = 0; i < a.length; i++) difference |= (a[i] ?? 0) ^ (b[i] ?? 0);
	return difference === 0;
}

const keys = new Map<string, Promise<CryptoKey>>();

/** The HMAC key of a `whsec_…` secret, imported once per secret. */
function signingKey(secret: string): Promise<CryptoKey> {
	let key = keys.get(secret);
	if (!key) {
		const bytes = base64Bytes(secret.startsWith("whsec_") ? secret.slice(6) : secret);
		if (!bytes || bytes.length === 0) throw new WebhookVerificationError("The webhook secret is not a whsec_ base64 secret.");
		key = crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
		if (keys.size >= 100) keys.clear();
		keys.set(secret, key);
	}
	return key;
}

/** The `v1,` signature of a delivery: base64 HMAC-SHA256 of `id.timestamp.body` (Standard Webhooks). */
export async function signWebhook(secret: string, id: string, timestamp: number, body: string | Uint8Array): Promise<string> {
	return `v1,${btoa(String.fromCharCode(...(await mac(secret, id, String(timestamp), body))))}`;
}

async function mac(secret: string, id: string, timestamp: string, body: string | Uint8Array): Promise<Uint8Array> {
	const prefix = encoder.encode(`${id}.${timestamp}.`);
	const payload = typeof body === "string" ? encoder.encode(body) : body;
	const signed = new Uint8Array(prefix.length + payload.length);
	signed.set(prefix);
	signed.set(payload, prefix.length);
	return new Uint8Array(await crypto.subtle.sign("HMAC", await signingKey(secret), signed));
}

/**
 * Checks a delivery as Standard Webhooks says: `webhook-signature` holds a `v1,` HMAC-SHA256
 * (under the endpoint's `whsec_` secret) of `webhook-id.webhook-timestamp.body`, compared in
 * constant time, and the timestamp is within `toleranceSeconds` of now. `body` is the raw body
 * exactly as received (not re-serialised JSON). Resolves to the event; throws
 * WebhookVerificationError otherwise.
 */
export async function verifyWebhook(
	secret: string,
	body: string | Uint8Array,
	headers: HeadersLike,
	options: VerifyOptions = {},
): Promise<WebhookEvent> {
	const id = header(headers, "webhook-id");
	const timestamp = header(headers, "webhook-timestamp");
	const signatures = header(headers, "webhook-signature");
	if (!id || !timestamp || !signatures)
		throw new WebhookVerificationError("Missing webhook-id, webhook-timestamp or webhook-signature.");
	if (!/^\d+$/.test(timestamp)) throw new WebhookVerificationError("webhook-timestamp is not a Unix time in seconds.");
	const tolerance = options.toleranceSeconds ?? 300;
	const skew = Math.abs((options.now ?? Date.now)() / 1000 - Number(timestamp));
	if (skew > tolerance) throw new WebhookVerificationError(`webhook-timestamp is more than ${tolerance} s from now.`);
	const expected = await mac(secret, id, timestamp, body);
	const matches = signatures
		.split(" ")
		.filter((entry) => entry.startsWith("v1,"))
		.some((entry) => {
			const given = base64Bytes(entry.slice(3));
			return given !== undefined && timingSafeEqual(given, expected);
		});
	if (!matches) throw new WebhookVerificationError("No webhook-signature matches the body.");
	const text = typeof body === "string" ? body : new TextDecoder().decode(body);
	try {
		return JSON.parse(text) as WebhookEvent;
	} catch {
		throw new WebhookVerificationError("The body is not JSON.");
	}
}

/** Where an id stands: newly claimed by this call, being handled by another, or handled. */
export type ClaimState = "claimed" | "in-progress" | "done";

/**
 * Where webhook ids are remembered, in two states: in progress (a handler runs, under a lease)
 * and done (handled). A shared, durable store (a table with a unique key and a state column)
 * for several receivers; each method must be atomic per id.
 */
export interface DedupeStore {
	/**
	 * "claimed" when `id` is unknown or its lease ran out (a receiver died mid-handler): it is
	 * now in progress for `leaseMs` and the caller handles it; otherwise its state.
	 */
	claim(id: string, leaseMs: number): ClaimState | Promise<ClaimState>;
	/** The handler succeeded: `id` is done, remembered for `ttlMs`. */
	complete(id: string, ttlMs: number): void | Promise<void>;
	/** The handler failed: `id` is forgotten, so a redelivery runs it. */
	release(id: string): void | Promise<void>;
}

interface Remembered {
	state: "in-progress" | "done";
	until: number;
}

/** In memory, per process: ids expire after their ttl (or lease), and the oldest go first past `maxEntries`. */
export class MemoryDedupeStore implements DedupeStore {
	private readonly entries = new Map<string, Remembered>();
	private readonly now: () => number;
	private readonly maxEntries: number;

	constructor(options: { now?: () => number; maxEntries?: number } = {}) {
		this.now = options.now ?? Date.now;
		this.maxEntries = options.maxEntries ?? 100_000;
	}

	claim(id: string, leaseMs: number): ClaimState {
		const now = this.now();
		const entry = this.entries.get(id);
		if (entry !== undefined && entry.until > now) return entry.state;
		this.remember(id, { state: "in-progress", until: now + leaseMs });
		return "claimed";
	}

	complete(id: string, ttlMs: number): void {
		this.remember(id, { state: "done", until: this.now() + ttlMs });
	}

	release(id: string): void {
		this.entries.delete(id);
	}

	get size(): number {
		return this.entries.size;
	}

	private remember(id: string, entry: Remembered): void {
		const now = this.now();
		this.entries.delete(id);
		this.entries.set(id, entry);
		for (const [key, { until }] of this.entries) {
			if (this.entries.size <= this.maxEntries && until > now) break;
			this.entries.delete(key);
		}
	}
}

/**
 * What to do with a delivery: `acknowledge` says whether to answer 2xx. "handled": the handler
 * ran now and succeeded; "duplicate": it ran before and succeeded; "in-progress": another
 * delivery of the id is being handled right now — answer non-2xx (409, or 503 with
 * Retry-After) so the sender delivers again later: if that handler fails, the retry runs it.
 */
export type DedupeOutcome<T> =
	| { status: "handled"; acknowledge: true; result: T }
	| { status: "duplicate"; acknowledge: true }
	| { status: "in-progress"; acknowledge: false };

/**
 * Runs each webhook once per `webhook-id`: deliveries are at least once, and every retry of
 * an event carries its id. An id is done only once its handler succeeded; while a handler
 * runs, another delivery of the id is not acknowledged (the sender retries it), so a handler
 * that fails never loses the event. The default ttl (4 days) outlasts the server's retries
 * (15 attempts over about 3.2 days); the lease (10 minutes) is how long a handler may run
 * before a redelivery is taken to mean its receiver died — keep handlers well within it.
 */
export class WebhookDeduper {
	private readonly store: DedupeStore;
	private readonly ttlMs: number;
	private readonly leaseMs: number;

	constructor(options: { store?: DedupeStore; ttlMs?: number; leaseMs?: number } = {}) {
		this.store = options.store ?? new MemoryDedupeStore();
		this.ttlMs = options.ttlMs ?? 4 * 24 * 3600_000;
		this.leaseMs = options.leaseMs ?? 10 * 60_000;
	}

	/**
	 * Runs `handler` unless `id` was handled already or is being handled. A handler that throws
	 * releases the id (and the error propagates, so the receiver answers non-2xx and the
	 * delivery is retried).
	 */
	async once<T>(id: string, handler: () => T | Promise<T>): Promise<DedupeOutcome<T>> {
		const state = await this.store.claim(id, this.leaseMs);
		if (state === "done") return { status: "duplicate", acknowledge: true };
		if (state === "in-progress") return { status: "in-progress", acknowledge: false };
		let result: T;
		try {
			result = await handler();
		} catch (error) {
			await this.store.release(id);
			throw error;
		}
		await this.store.complete(id, this.ttlMs);
		return { status: "handled", acknowledge: true, result };
	}
}
