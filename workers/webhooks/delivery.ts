import { forEachInParallel } from "../lib/parallel";
import { DAY, nowIso } from "../lib/time";
import { MAX_QUEUE_DELAY_SECONDS, nextDelaySeconds, parseRetryAfter } from "./backoff";
import { webhookHeaders } from "./signing";
import { signingKeyFor } from "./signing-keys";

export interface DeliveryMessage {
	delivery_id: string;
}

/** An endpoint failing for this long, with a delivery dead, is disabled. */
export const DISABLE_AFTER_MS = 3 * DAY;
const ATTEMPT_TIMEOUT_MS = 10_000;
/** How long a claimed delivery is held by its attempt; a crashed attempt's delivery is free again after it. */
export const LEASE_MS = 60_000;
/**
 * POSTs in flight at once for one batch. The platform lets an invocation wait on six responses
 * and queues the rest with their timeouts already running: more would time out deliveries that
 * only waited behind a slow receiver.
 */
export const PARALLEL_ATTEMPTS = 6;
/**
 * An attempt starts only while its lease still covers its timeout and its record, so no other
 * consumer can claim a delivery that is being sent; the rest of a slow batch goes back untried.
 */
export const START_WITHIN_MS = LEASE_MS - ATTEMPT_TIMEOUT_MS - 20_000;
/** When a delivery's result could not be recorded: its message comes back after this, and waits for the lease. */
const UNRECORDED_RETRY_SECONDS = 30;

/** A delivery as the claim found it, with what its attempt needs (after the claim: `sending` if this batch holds it). */
interface DeliveryRow {
	id: string;
	status: string;
	next_attempt_at: string;
	lease_until: string | null;
	attempts: number;
	endpoint_id: string;
	event_id: string;
	url: string;
	secret_ciphertext: string;
	enabled: number;
	failing_since: string | null;
	payload: string;
}

/** What the queue should do with the message: done, or come back in so many seconds. */
export type DeliveryVerdict = { done: true } | { done: false; retryInSeconds: number };

/** A claimed delivery's share of the batch's one write, and its verdict once that write is in. */
interface Settled {
	statements: D1PreparedStatement[];
	verdict: DeliveryVerdict;
}

const DONE: DeliveryVerdict = { done: true };
const UNRECORDED: DeliveryVerdict = { done: false, retryInSeconds: UNRECORDED_RETRY_SECONDS };

/** One attempt at one delivery: a batch of one. */
export async function attemptDelivery(
	env: Env,
	deliveryId: string,
	now = Date.now(),
	random = Math.random(),
): Promise<DeliveryVerdict> {
	const verdicts = await attemptDeliveries(env, [deliveryId], now, () => random);
	return verdicts.get(deliveryId) ?? DONE;
}

/**
 * One attempt at each of a batch of deliveries. One D1 round trip claims them all (a lease on
 * each row makes concurrent copies of a message harmless) and reads what their attempts need;
 * their POSTs run a few at a time, each signed with its endpoint's cached key and carrying the
 * event id as `webhook-id` on every attempt; one more round trip records every result. Each
 * result is written only while its attempt still holds the lease, so writing it twice (after
 * a lost answer) changes nothing. Answers a verdict for every id.
 */
export async function attemptDeliveries(
	env: Env,
	deliveryIds: readonly string[],
	now = Date.now(),
	random: () => number = Math.random,
): Promise<Map<string, DeliveryVerdict>> {
	const ids = [...new Set(deliveryIds)];
	const verdicts = new Map<string, DeliveryVerdict>(ids.map((id) => [id, DONE]));
	if (ids.length === 0) return verdicts;
	const lease = nowIso(now + LEASE_MS);
	const { claimed, rows } = await claim(env, ids, now, lease);
	const mine: DeliveryRow[] = [];
	for (const row of rows) {
		if (claimed.has(row.id)) mine.push(row);
		else verdicts.set(row.id, waitFor(row, now));
	}
	// One look-up per endpoint in the batch, however many of its deliveries are in it.
	const keys = new Map<string, Promise<CryptoKey>>();
	const keyFor = (sealed: string) => {
		const known = keys.get(sealed);
		if (known) return known;
		const key = signingKeyFor(env, sealed);
		keys.set(sealed, key);
		return key;
	};
	// The real clock, not `now` (tests move that): how long this batch has held its leases.
	const claimedAt = Date.now();
	const settled = new Map<string, Settled>();
	await forEachInParallel(mine, PARALLEL_ATTEMPTS, async (row) => {
		settled.set(row.id, await settle(env, row, { lease, now, claimedAt, random, keyFor }));
	});
	for (const [id, result] of settled) verdicts.set(id, result.verdict);
	for (const id of await record(env, settled)) verdicts.set(id, UNRECORDED);
	return verdicts;
}

/**
 * Leases the due deliveries among `ids` and reads them all in one transaction: the UPDATE's
 * RETURNING says which this batch holds (only those are attempted); the others' state says
 * when their message should look again.
 */
async function claim(env: Env, ids: string[], now: number, lease: string) {
	const at = nowIso(now);
	const list = JSON.stringify(ids);
	const [leased, found] = await env.DB.batch([
		env.DB.prepare(
			`UPDATE webhook_deliveries SET status = 'sending', lease_until = ?2, updated_at = ?1
			  WHERE id IN (SELECT value FROM json_each(?3))
			    AND ((status = 'pending' AND next_attempt_at <= ?1) OR (status = 'sending' AND lease_until < ?1))
			  RETURNING id`,
		).bind(at, lease, list),
		env.DB.prepare(
			`SELECT d.id, d.status, d.next_attempt_at, d.lease_until, d.attempts, d.endpoint_id, d.event_id,
			        w.url, w.secret_ciphertext, w.enabled, w.failing_since, e.payload
			   FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id JOIN events e ON e.id = d.event_id
			  WHERE d.id IN (SELECT value FROM json_each(?))`,
		).bind(list),
	]);
	const claimed = new Set(((leased?.results ?? []) as { id: string }[]).map((row) => row.id));
	return { claimed, rows: (found?.results ?? []) as DeliveryRow[] };
}

/** A delivery this batch did not claim: not due yet, or leased by another attempt (or by one that died). */
function waitFor(row: DeliveryRow, now: number): DeliveryVerdict {
	const comeBackAt = (iso: string): DeliveryVerdict => {
		const seconds = Math.ceil((Date.parse(iso) - now) / 1000);
		return { done: false, retryInSeconds: Math.min(Math.max(1, seconds), MAX_QUEUE_DELAY_SECONDS) };
	};
	// Not due yet: a hop of a wait longer than one queue delay, or an early copy.
	if (row.status === "pending") return comeBackAt(row.next_attempt_at);
	// Leased: by a copy at work now, or by an attempt that failed before recording its result
	// (this very message, retried). Only the lease's end tells which, so look again then.
	if (row.status === "sending") return comeBackAt(row.lease_until ?? nowIso(now));
	return DONE;
}

/** Statements of one claimed delivery hold only while its lease is this batch's: a result is written once. */
const HELD = "EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = ? AND status = 'sending' AND lease_until = ?)";

/** What every attempt of one batch shares. */
interface BatchContext {
	lease: string;
	now: number;
	claimedAt: number;
	random: () => number;
	keyFor: (sealed: string) => Promise<CryptoKey>;
}

/** Attempts one claimed delivery (or gives it back untried) and says what to write and what its message should do. */
async function settle(env: Env, delivery: DeliveryRow, batch: BatchContext): Promise<Settled> {
	const { lease, now, claimedAt, random } = batch;
	const at = nowIso(now);
	const held = [delivery.id, lease];
	const setStatus = (status: string) =>
		env.DB.prepare(
			"UPDATE webhook_deliveries SET status = ?, lease_until = NULL, updated_at = ? WHERE id = ? AND status = 'sending' AND lease_until = ?",
		).bind(status, at, ...held);
	if (!delivery.enabled) return { statements: [setStatus("skipped")], verdict: DONE };
	const waited = Date.now() - claimedAt;
	if (waited > START_WITHIN_MS) {
		// Its turn came too late for the lease to cover an attempt: due again at once, attempts unchanged.
		return { statements: [setStatus("pending")], verdict: { done: false, retryInSeconds: 1 } };
	}
	// Signed when it is sent (a receiver checks the timestamp's age), on the caller's clock.
	const outcome = await post(delivery, batch.keyFor(delivery.secret_ciphertext), now + waited);
	const attempt = delivery.attempts + 1;
	const record = env.DB.prepare(
		`INSERT INTO webhook_attempts (id, delivery_id, attempt, status_code, error, latency_ms, attempted_at)
		 SELECT ?, ?, ?, ?, ?, ?, ? WHERE ${HELD}`,
	).bind(
		crypto.randomUUID(),
		delivery.id,
		attempt,
		outcome.status ?? null,
		outcome.error ?? null,
		outcome.latencyMs,
		at,
		...held,
	);
	// Last of the delivery's statements: it ends the lease the others are guarded by.
	const finish = (status: string, nextAttemptAt = at) =>
		env.DB.prepare(
			`UPDATE webhook_deliveries SET status = ?, attempts = ?, last_status_code = ?, next_attempt_at = ?, lease_until = NULL, updated_at = ?
			  WHERE id = ? AND status = 'sending' AND lease_until = ?`,
		).bind(status, attempt, outcome.status ?? null, nextAttemptAt, at, ...held);

	if (outcome.status !== undefined && outcome.status >= 200 && outcome.status < 300) {
		const succeeded = env.DB.prepare(
			`UPDATE webhook_endpoints SET last_success_at = ?, failing_since = NULL WHERE id = ? AND ${HELD}`,
		).bind(at, delivery.endpoint_id, ...held);
		return { statements: [record, succeeded, finish("delivered")], verdict: DONE };
	}
	if (outcome.status === 410) {
		const gone = disable(env, delivery.endpoint_id, "The receiver answered 410 Gone.", at, held);
		return { statements: [record, gone, finish("failed")], verdict: DONE };
	}
	const delay = nextDelaySeconds(attempt, random(), outcome.retryAfter);
	const failingSince = delivery.failing_since ?? at;
	const failing = env.DB.prepare(
		`UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, ?) WHERE id = ? AND ${HELD}`,
	).bind(failingSince, delivery.endpoint_id, ...held);
	if (delay === null) {
		// Dead-lettered before it is marked dead: a failed send leaves the delivery leased, so the
		// message's retry attempts it once more and dead-letters it then, rather than the row
		// ending dead with no dead letter. A failure between the two only repeats both.
		try {
			await env.WEBHOOK_DLQ.send({
				delivery_id: delivery.id,
				event_id: delivery.event_id,
				endpoint_id: delivery.endpoint_id,
				attempts: attempt,
			});
		} catch (error) {
			console.error("dead-letter send failed", delivery.id, error instanceof Error ? error.message : String(error));
			return { statements: [], verdict: UNRECORDED };
		}
		const statements = [record, failing];
		if (now - Date.parse(failingSince) >= DISABLE_AFTER_MS) {
			statements.push(disable(env, delivery.endpoint_id, "Deliveries failed for more than 3 days.", at, held));
		}
		return { statements: [...statements, finish("dead")], verdict: DONE };
	}
	return {
		statements: [record, failing, finish("pending", nowIso(now + delay * 1000))],
		verdict: { done: false, retryInSeconds: Math.min(delay, MAX_QUEUE_DELAY_SECONDS) },
	};
}

/**
 * Every result of the batch in one transaction. If that fails, each delivery's own statements
 * are tried alone, so that one that cannot be written holds back none of the others; the
 * lease guards make a second write of a result that did commit (its answer lost) a no-op.
 * Answers the deliveries whose result is still unwritten: their messages come back, and the
 * lease keeps any copy from attempting them before it ends.
 */
async function record(env: Env, settled: Map<string, Settled>): Promise<string[]> {
	const writes = [...settled].filter(([, result]) => result.statements.length > 0);
	if (writes.length === 0) return [];
	try {
		await env.DB.batch(writes.flatMap(([, result]) => result.statements));
		return [];
	} catch (error) {
		console.warn("webhook results not recorded in one batch; writing each alone", errorText(error));
	}
	const unwritten: string[] = [];
	await Promise.all(
		writes.map(async ([id, result]) => {
			try {
				await env.DB.batch(result.statements);
			} catch (error) {
				console.error("webhook result not recorded", id, errorText(error));
				unwritten.push(id);
			}
		}),
	);
	return unwritten;
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

async function post(delivery: DeliveryRow, key: Promise<CryptoKey>, now: number) {
	try {
		const headers = await webhookHeaders(await key, delivery.event_id, delivery.payload, now);
		const started = performance.now();
		try {
			const response = await fetch(delivery.url, {
				method: "POST",
				headers,
				body: delivery.payload,
				redirect: "manual",
				signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
			});
			await response.body?.cancel();
			return {
				status: response.status,
				retryAfter: parseRetryAfter(response.headers.get("Retry-After"), now),
				latencyMs: Math.round(performance.now() - started),
			};
		} catch (error) {
			return { error: attemptError(error), latencyMs: Math.round(performance.now() - started) };
		}
	} catch (error) {
		// The secret could not be opened: nothing was sent.
		return { error: attemptError(error), latencyMs: 0 };
	}
}

/**
 * What the delivery log says of an attempt that got no status. The account sees the log, and
 * a fetch error's text describes the receiver's network (addresses, names, TLS details), so
 * only these words are recorded.
 */
export const ATTEMPT_ERRORS = ["timeout", "connection failed", "request failed"] as const;

function attemptError(error: unknown): (typeof ATTEMPT_ERRORS)[number] {
	if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) return "timeout";
	// The text is read to pick a word, never kept: fetch rejects with a TypeError or a network error when no HTTP answer came.
	const text = error instanceof Error ? error.message : String(error);
	if (error instanceof TypeError || /network|connect|dns|tls|ssl|socket|reset|refused|unreachable/i.test(text)) {
		return "connection failed";
	}
	return "request failed";
}

/** An error as the log shows it: attempts recorded before the fixed words were kept with their text. */
export function publicAttemptError(stored: string | null): string | null {
	if (stored === null) return null;
	return (ATTEMPT_ERRORS as readonly string[]).includes(stored) ? stored : "request failed";
}

const disable = (env: Env, endpointId: string, reason: string, at: string, held: string[]) =>
	env.DB.prepare(
		`UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?, version = version + 1, updated_at = ? WHERE id = ? AND ${HELD}`,
	).bind(reason, at, endpointId, ...held);

/**
 * The queue consumer: attempts the batch's deliveries together and schedules each message's
 * own retry (Retry-After, backoff, hops). A second copy of a message in the same batch is
 * acked: the first carries the delivery on.
 */
export async function consumeDeliveries(batch: MessageBatch<DeliveryMessage>, env: Env): Promise<void> {
	let verdicts: Map<string, DeliveryVerdict>;
	try {
		verdicts = await attemptDeliveries(
			env,
			batch.messages.map((message) => message.body.delivery_id),
		);
	} catch (error) {
		console.error("webhook deliveries crashed", errorText(error));
		for (const message of batch.messages) message.retry({ delaySeconds: UNRECORDED_RETRY_SECONDS });
		return;
	}
	const seen = new Set<string>();
	for (const message of batch.messages) {
		const id = message.body.delivery_id;
		const verdict = verdicts.get(id) ?? DONE;
		if (seen.has(id) || verdict.done) message.ack();
		else message.retry({ delaySeconds: verdict.retryInSeconds });
		seen.add(id);
	}
}
