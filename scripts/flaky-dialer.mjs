// The flaky dialer of `npm run chaos`: a local provider speaking the `http` dialer's wire
// format (signed POST of {call_id, to, caller_id, callback_path}; signed progress callbacks to
// the server), with the faults real providers have. It is also the outside witness: it alone
// knows which calls really rang, so "called exactly once" and "concurrency cap held" are
// measured here, not taken from the server's word.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, as the server signs and checks. */
export function sign(secret, body, now = Date.now()) {
	const t = Math.floor(now / 1000);
	return `t=${t},v1=${createHmac("sha256", secret).update(`${t}.${body}`).digest("hex")}`;
}

const TOLERANCE_SECONDS = 300;

export function verify(secret, body, header, now = Date.now()) {
	if (typeof header !== "string") return false;
	const fields = Object.fromEntries(header.split(",").map((part) => part.trim().split("=", 2)));
	const t = Number(fields.t);
	if (!Number.isInteger(t) || Math.abs(now / 1000 - t) > TOLERANCE_SECONDS || !/^[0-9a-f]{64}$/.test(fields.v1 ?? "")) {
		return false;
	}
	const expected = createHmac("sha256", secret).update(`${t}.${body}`).digest();
	return timingSafeEqual(expected, Buffer.from(fields.v1, "hex"));
}

/** Small seeded PRNG (mulberry32): the same seed gives the same durations, outcomes and faults. */
export function seededRandom(seed) {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Starts the dialer on 127.0.0.1:`port`. Callbacks go to `serverBase` + the request's
 * callback_path. Fault rates are per callback (drop, duplicate) and per call (reorder).
 */
export function startFlakyDialer({ port, secret, serverBase, random, dropRate = 0.15, duplicateRate = 0.15, reorderRate = 0.2 }) {
	const between = (min, max) => min + Math.floor(random() * (max - min + 1));
	/** call_id → { callId, to, acceptedAt, endsAt, outcome }: only calls this dialer accepted. */
	const calls = new Map();
	const stats = {
		requests: 0,
		badSignatures: 0,
		malformed: 0,
		refused: 0,
		accepted: 0,
		repeated: 0, // a POST of a call_id already accepted: answered 2xx, not placed again
		events: 0,
		deliveries: 0, // independent deliveries (an event plus its duplicates and redeliveries)
		attempts: 0,
		failedAttempts: 0, // 5xx, other non-2xx or no connection: retried
		dropped: 0,
		duplicated: 0,
		reordered: 0,
		results: {},
	};
	let outageUntil = 0;
	let outageHits = 0;
	let closed = false;
	const timers = new Set();
	let undelivered = 0;

	const later = (ms, fn) => {
		if (closed) return;
		const timer = setTimeout(() => {
			timers.delete(timer);
			if (!closed) fn();
		}, ms);
		timers.add(timer);
	};

	/** POSTs one event until the server answers 2xx, as real providers redeliver. */
	function deliver(url, event, firstDelayMs) {
		stats.deliveries++;
		undelivered++;
		const body = JSON.stringify(event);
		const attempt = async (n) => {
			stats.attempts++;
			try {
				const response = await fetch(url, {
					method: "POST",
					// Signed at send time, so a redelivery long after the event still has a fresh timestamp.
					headers: { "Content-Type": "application/json", "X-Callgate-Signature": sign(secret, body) },
					body,
					signal: AbortSignal.timeout(10_000),
				});
				const text = await response.text();
				if (response.ok) {
					let result = "?";
					try {
						result = JSON.parse(text).result ?? "?";
					} catch {}
					stats.results[result] = (stats.results[result] ?? 0) + 1;
					undelivered--;
					return;
				}
			} catch {
				// Connection refused (server down) or timed out: a redelivery will follow.
			}
			stats.failedAttempts++;
			// Backoff capped at 2 s: real providers back off longer, but the run must stay short.
			later(Math.min(2000, 250 * 2 ** n), () => attempt(n + 1));
		};
		later(firstDelayMs, () => attempt(0));
	}

	/** Sends one event when it happens, with the faults: a lost first delivery, a duplicate. */
	function report(url, event, atMs) {
		stats.events++;
		let first = atMs;
		if (random() < dropRate) {
			// The first delivery vanished on the way; the provider notices and redelivers later.
			stats.dropped++;
			first += between(2000, 5000);
		}
		deliver(url, event, first);
		if (random() < duplicateRate) {
			stats.duplicated++;
			deliver(url, event, atMs + between(0, 1000));
		}
	}

	/** Plays one accepted call: ringing, answered (if completed), then its final status. */
	function play(call, url) {
		const duration = between(1000, 3000);
		const roll = random();
		call.outcome = roll < 0.8 ? "completed" : roll < 0.9 ? "no_answer" : "busy";
		call.endsAt = call.acceptedAt + duration;
		const at = (ms) => new Date(call.acceptedAt + ms).toISOString();
		const event = (suffix, status, ms, extra = {}) => ({
			event_id: `${call.callId}:${suffix}`,
			call_id: call.callId,
			status,
			occurred_at: at(ms),
			...extra,
		});
		const ringingAt = Math.round(duration * 0.2);
		const answeredAt = Math.round(duration * 0.4);
		const progress = [event("ringing", "ringing", ringingAt)];
		if (call.outcome === "completed") progress.push(event("answered", "in_progress", answeredAt));
		const final = event("final", call.outcome, duration, {
			duration_seconds: call.outcome === "completed" ? Math.round((duration - answeredAt) / 1000) : 0,
		});
		report(url, final, duration);
		// Out of order: the progress events arrive after the final one (the server must call them stale).
		const reorder = random() < reorderRate;
		if (reorder) stats.reordered++;
		for (const [i, e] of progress.entries()) {
			report(url, e, reorder ? duration + 200 * (i + 1) : i === 0 ? ringingAt : answeredAt);
		}
	}

	function answer(response, status, body, headers = {}) {
		response.writeHead(status, { "Content-Type": "application/json", ...headers }).end(JSON.stringify(body));
	}

	const server = createServer((request, response) => {
		const chunks = [];
		request.on("data", (chunk) => chunks.push(chunk));
		request.on("end", () => {
			if (request.method !== "POST" || request.url !== "/calls") return answer(response, 404, { message: "Not found." });
			stats.requests++;
			const text = Buffer.concat(chunks).toString("utf8");
			if (!verify(secret, text, request.headers["x-callgate-signature"])) {
				stats.badSignatures++;
				return answer(response, 401, { message: "Bad signature." });
			}
			let dial;
			try {
				dial = JSON.parse(text);
			} catch {}
			if (!dial || !UUID.test(dial.call_id ?? "") || typeof dial.to !== "string" || typeof dial.callback_path !== "string") {
				stats.malformed++;
				return answer(response, 400, { message: "Malformed dial request." });
			}
			// The call id is the idempotency key: a repeat of an accepted call is acknowledged, not placed.
			if (calls.has(dial.call_id)) {
				stats.repeated++;
				return answer(response, 200, { call_id: dial.call_id, status: "accepted" });
			}
			const now = Date.now();
			if (now < outageUntil) {
				stats.refused++;
				outageHits++;
				// Half the refusals name a Retry-After, which the server must honour.
				const headers = outageHits % 2 === 0 ? { "Retry-After": "1" } : {};
				return answer(response, 503, { message: "Dialer outage (chaos)." }, headers);
			}
			const call = { callId: dial.call_id, to: dial.to, acceptedAt: now, endsAt: null, outcome: null };
			calls.set(call.callId, call);
			stats.accepted++;
			play(call, new URL(dial.callback_path, serverBase).href);
			answer(response, 202, { call_id: call.callId, status: "accepted" });
		});
	});

	return new Promise((resolve, reject) => {
		server.once("error", reject);
		server.listen(port, "127.0.0.1", () =>
			resolve({
				calls,
				stats,
				/** Refuse every new dial with 503 for `ms` from now. */
				beginOutage(ms) {
					outageUntil = Date.now() + ms;
					return outageUntil;
				},
				get outageUntil() {
					return outageUntil;
				},
				/** Deliveries not yet acknowledged with a 2xx (including ones not due yet). */
				undelivered: () => undelivered,
				close() {
					closed = true;
					for (const timer of timers) clearTimeout(timer);
					timers.clear();
					server.closeAllConnections?.();
					return new Promise((done) => server.close(() => done()));
				},
			}),
		);
	});
}
