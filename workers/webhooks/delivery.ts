import { DAY, nowIso } from "../lib/time";
import { MAX_QUEUE_DELAY_SECONDS, nextDelaySeconds, parseRetryAfter } from "./backoff";
import { openSecret } from "./secrets";
import { webhookHeaders } from "./signing";

export interface DeliveryMessage {
	delivery_id: string;
}

/** An endpoint failing for this long, with a delivery dead, is disabled. */
export const DISABLE_AFTER_MS = 3 * DAY;
const ATTEMPT_TIMEOUT_MS = 10_000;
/** How long a claimed delivery is held by its attempt; a crashed attempt's delivery is free again after it. */
export const LEASE_MS = 60_000;

interface Claimed {
	id: string;
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

/**
 * One attempt at one delivery. The claim (a lease on the row) makes concurrent copies of the
 * message harmless; the same event id goes out as `webhook-id` on every attempt.
 */
export async function attemptDelivery(
	env: Env,
	deliveryId: string,
	now = Date.now(),
	random = Math.random(),
): Promise<DeliveryVerdict> {
	const claimed = await claim(env, deliveryId, now);
	if ("verdict" in claimed) return claimed.verdict;
	const delivery = claimed.row;
	if (!delivery.enabled) {
		await env.DB.prepare("UPDATE webhook_deliveries SET status = 'skipped', lease_until = NULL, updated_at = ? WHERE id = ?")
			.bind(nowIso(now), delivery.id)
			.run();
		return { done: true };
	}
	const outcome = await post(env, delivery, now);
	const attempt = delivery.attempts + 1;
	const at = nowIso(now);
	const record = env.DB.prepare(
		"INSERT INTO webhook_attempts (id, delivery_id, attempt, status_code, error, latency_ms, attempted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
	).bind(crypto.randomUUID(), delivery.id, attempt, outcome.status ?? null, outcome.error ?? null, outcome.latencyMs, at);
	const finish = (status: string, nextAttemptAt = at) =>
		env.DB.prepare(
			"UPDATE webhook_deliveries SET status = ?, attempts = ?, last_status_code = ?, next_attempt_at = ?, lease_until = NULL, updated_at = ? WHERE id = ?",
		).bind(status, attempt, outcome.status ?? null, nextAttemptAt, at, delivery.id);

	if (outcome.status !== undefined && outcome.status >= 200 && outcome.status < 300) {
		await env.DB.batch([
			record,
			finish("delivered"),
			env.DB.prepare("UPDATE webhook_endpoints SET last_success_at = ?, failing_since = NULL WHERE id = ?").bind(
				at,
				delivery.endpoint_id,
			),
		]);
		return { done: true };
	}
	if (outcome.status === 410) {
		await env.DB.batch([record, finish("failed"), disable(env, delivery.endpoint_id, "The receiver answered 410 Gone.", at)]);
		return { done: true };
	}
	const delay = nextDelaySeconds(attempt, random, outcome.retryAfter);
	const failingSince = delivery.failing_since ?? at;
	if (delay === null) {
		// Dead-lettered before it is marked dead: a failed send leaves the delivery leased, so the
		// message's retry attempts it once more and dead-letters it then, rather than the row
		// ending dead with no dead letter. A failure between the two only repeats both.
		await env.WEBHOOK_DLQ.send({
			delivery_id: delivery.id,
			event_id: delivery.event_id,
			endpoint_id: delivery.endpoint_id,
			attempts: attempt,
		});
		const statements = [record, finish("dead"), markFailing(env, delivery.endpoint_id, failingSince)];
		if (now - Date.parse(failingSince) >= DISABLE_AFTER_MS) {
			statements.push(disable(env, delivery.endpoint_id, "Deliveries failed for more than 3 days.", at));
		}
		await env.DB.batch(statements);
		return { done: true };
	}
	await env.DB.batch([
		record,
		finish("pending", nowIso(now + delay * 1000)),
		markFailing(env, delivery.endpoint_id, failingSince),
	]);
	return { done: false, retryInSeconds: Math.min(delay, MAX_QUEUE_DELAY_SECONDS) };
}

async function claim(env: Env, deliveryId: string, now: number): Promise<{ row: Claimed } | { verdict: DeliveryVerdict }> {
	const at = nowIso(now);
	const leased = await env.DB.prepare(
		`UPDATE webhook_deliveries SET status = 'sending', lease_until = ?2, updated_at = ?1
		  WHERE id = ?3 AND ((status = 'pending' AND next_attempt_at <= ?1) OR (status = 'sending' AND lease_until < ?1))
		  RETURNING id`,
	)
		.bind(at, nowIso(now + LEASE_MS), deliveryId)
		.first<{ id: string }>();
	if (!leased) {
		const current = await env.DB.prepare("SELECT status, next_attempt_at, lease_until FROM webhook_deliveries WHERE id = ?")
			.bind(deliveryId)
			.first<{ status: string; next_attempt_at: string; lease_until: string | null }>();
		const comeBackAt = (iso: string) => {
			const seconds = Math.ceil((Date.parse(iso) - now) / 1000);
			return { verdict: { done: false, retryInSeconds: Math.min(Math.max(1, seconds), MAX_QUEUE_DELAY_SECONDS) } };
		};
		// Not due yet: a hop of a wait longer than one queue delay, or an early copy.
		if (current?.status === "pending") return comeBackAt(current.next_attempt_at);
		// Leased: by a copy at work now, or by an attempt that failed before recording its result
		// (this very message, retried). Only the lease's end tells which, so look again then.
		if (current?.status === "sending") return comeBackAt(current.lease_until ?? at);
		return { verdict: { done: true } };
	}
	const row = await env.DB.prepare(
		`SELECT d.id, d.attempts, d.endpoint_id, d.event_id, w.url, w.secret_ciphertext, w.enabled, w.failing_since, e.payload
		   FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id JOIN events e ON e.id = d.event_id
		  WHERE d.id = ?`,
	)
		.bind(deliveryId)
		.first<Claimed>();
	return row ? { row } : { verdict: { done: true } };
}

async function post(env: Env, delivery: Claimed, now: number) {
	const started = performance.now();
	try {
		const secret = await openSecret(env, delivery.secret_ciphertext);
		const response = await fetch(delivery.url, {
			method: "POST",
			headers: await webhookHeaders(secret, delivery.event_id, delivery.payload, now),
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

const disable = (env: Env, endpointId: string, reason: string, at: string) =>
	env.DB.prepare(
		"UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?, version = version + 1, updated_at = ? WHERE id = ?",
	).bind(reason, at, endpointId);

const markFailing = (env: Env, endpointId: string, since: string) =>
	env.DB.prepare("UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, ?) WHERE id = ?").bind(since, endpointId);

/** The queue consumer: attempts each delivery and schedules its own retries (Retry-After, backoff, hops). */
export async function consumeDeliveries(batch: MessageBatch<DeliveryMessage>, env: Env): Promise<void> {
	await Promise.all(
		batch.messages.map(async (message) => {
			try {
				const verdict = await attemptDelivery(env, message.body.delivery_id);
				if (verdict.done) message.ack();
				else message.retry({ delaySeconds: verdict.retryInSeconds });
			} catch (error) {
				console.error(
					"webhook delivery crashed",
					message.body.delivery_id,
					error instanceof Error ? error.message : String(error),
				);
				message.retry({ delaySeconds: 30 });
			}
		}),
	);
}
