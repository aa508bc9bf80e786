// A local Telnyx for end-to-end runs: an HTTP server speaking the parts of Telnyx's API v2 that
// callgate uses (Call Control dial, active calls, hangup and transfer; Messaging), checking the
// API key and the required parameters and answering errors in Telnyx's shape
// (`{"errors": [{"code", "title", "detail", "source"}]}`), recording every request, and playing
// each call's and message's life as webhooks to the webhook_url callgate gave, signed as Telnyx
// signs them: Ed25519 over `{telnyx-timestamp}|{raw body}`, base64, with a private key whose
// public half callgate holds as TELNYX_PUBLIC_KEY. (Telnyx signs with its own private key, so no
// library can sign for a stand-in; the e2e checks the `telnyx` package verifies what it sends.)
//
// Outcomes by the dialled number's last digit, like the simulated provider: 0–5 answered then
// hung up (completed), 6 a machine when answering_machine_detection was asked (else completed),
// 7 no answer (timeout), 8 busy (user_busy), 9 failed (not_found). A leg whose client_state
// marks a click-to-call agent (`;agent`) answers and waits for the transfer. Messages to a
// number ending in 9 fail (delivery_failed), others are delivered.
//
// Control (no auth): POST /_control/faults {"count", "status", "retry_after"?} makes the next
// `count` API requests answer that status; POST /_control/refuse {"number"} refuses a number with
// 422 (Telnyx 10016); GET /_control/log answers what the stand-in saw and sent.
import { randomUUID, sign } from "node:crypto";
import { createServer } from "node:http";

const E164 = /^\+[1-9]\d{6,14}$/;
/** Telnyx ignores a repeated command_id within this long (its docs). */
const COMMAND_WINDOW_MS = 60_000;

const safeAtob = (value) => {
	try {
		return Buffer.from(String(value ?? ""), "base64").toString("utf8");
	} catch {
		return "";
	}
};

/**
 * Starts the stand-in. `privateKey`: a node:crypto KeyObject (Ed25519). `timing` in ms: when each
 * step of a call happens after the dial; `jitterMs` delays each webhook's delivery by up to that
 * (so they may arrive out of order); `duplicateRate` sends a share of webhooks twice.
 */
export async function startTelnyxStandin({
	port = 8789,
	host = "127.0.0.1",
	apiKey,
	connectionId,
	privateKey,
	timing = { initiated: 50, answered: 400, detection: 600, hangup: 1500, unanswered: 800, machineGivesUp: 20_000 },
	jitterMs = 300,
	duplicateRate = 0.15,
	random = Math.random,
	log = () => {},
}) {
	const requests = [];
	const deliveries = [];
	const legs = new Map();
	const messages = new Map();
	const commands = new Map();
	const rang = [];
	const refused = new Set();
	const faults = [];
	const timers = new Set();
	let pendingDeliveries = 0;

	const later = (ms, fn) => {
		const timer = setTimeout(() => {
			timers.delete(timer);
			fn();
		}, ms);
		timers.add(timer);
	};

	const signed = (body, timestamp = Math.floor(Date.now() / 1000)) => ({
		"telnyx-signature-ed25519": sign(null, Buffer.from(`${timestamp}|${body}`), privateKey).toString("base64"),
		"telnyx-timestamp": String(timestamp),
	});

	/** Delivers one webhook (and sometimes a duplicate); a non-2xx is redelivered, as Telnyx does, up to 5 times. */
	function deliver(url, body, meta) {
		const attempt = async (n) => {
			const headers = signed(body);
			let status = 0;
			try {
				const response = await fetch(url, {
					method: "POST",
					headers: { "Content-Type": "application/json", "User-Agent": "telnyx-webhooks (stand-in)", ...headers },
					body,
					signal: AbortSignal.timeout(15_000),
				});
				status = response.status;
				await response.arrayBuffer();
			} catch {
				status = 0;
			}
			deliveries.push({ ...meta, url, body, headers, status, attempt: n });
			if ((status < 200 || status >= 300) && n < 5) later(1000 * n, () => attempt(n + 1));
			else pendingDeliveries--;
		};
		const copies = random() < duplicateRate ? 2 : 1;
		for (let i = 0; i < copies; i++) {
			pendingDeliveries++;
			later(Math.floor(random() * jitterMs) + i * 200, () => attempt(1));
		}
	}

	let sequence = 0;
	function emit(leg, type, extra = {}) {
		const payload = {
			call_control_id: leg.callControlId,
			call_leg_id: leg.callLegId,
			call_session_id: leg.callSessionId,
			client_state: leg.clientState || undefined,
			connection_id: connectionId,
			from: leg.from,
			to: leg.to,
			direction: "outgoing",
			...(type === "call.initiated" ? { state: "bridging" } : { start_time: leg.startedAt }),
			...extra,
		};
		const body = JSON.stringify({
			data: {
				record_type: "event",
				event_type: type,
				id: randomUUID(),
				occurred_at: new Date(Date.now() + (sequence++ % 3)).toISOString(),
				payload,
			},
			meta: { attempt: 1, delivered_to: leg.webhookUrl },
		});
		if (leg.webhookUrl) deliver(leg.webhookUrl, body, { event_type: type, call_control_id: leg.callControlId, to: leg.to });
	}

	function end(leg, cause, sip) {
		if (!leg.alive) return;
		leg.alive = false;
		emit(leg, "call.hangup", {
			hangup_cause: cause,
			hangup_source: cause === "normal_clearing" ? "callee" : "unknown",
			sip_hangup_cause: sip ?? (cause === "normal_clearing" ? "200" : "unspecified"),
			state: "hangup",
		});
		// A bridged pair ends together.
		for (const other of legs.values()) {
			if (
				other.alive &&
				other.answered &&
				leg.answered &&
				(other.parent === leg.callControlId || leg.parent === other.callControlId)
			) {
				later(100, () => end(other, "normal_clearing"));
			}
		}
	}

	function newLeg({ to, from, clientState, amd, webhookUrl, parent }) {
		const id = randomUUID();
		const leg = {
			callControlId: `v3:${id}`,
			callLegId: id,
			callSessionId: parent ? legs.get(parent)?.callSessionId : randomUUID(),
			to,
			from,
			clientState,
			amd,
			webhookUrl,
			parent,
			alive: true,
			answered: false,
			startedAt: new Date().toISOString(),
		};
		legs.set(leg.callControlId, leg);
		rang.push(to);
		const agent = safeAtob(clientState).endsWith(";agent");
		const digit = Number(to.at(-1));
		later(timing.initiated, () => emit(leg, "call.initiated"));
		if (to.startsWith("sip:") || digit <= 6) {
			later(timing.answered, () => {
				if (!leg.alive) return;
				leg.answered = true;
				emit(leg, "call.answered", { state: "answered" });
			});
			if (amd)
				later(
					timing.detection,
					() => leg.alive && emit(leg, "call.machine.detection.ended", { result: digit === 6 ? "machine" : "human" }),
				);
			if (amd && digit === 6) later(timing.machineGivesUp, () => end(leg, "normal_clearing"));
			else if (!agent) later(timing.hangup, () => end(leg, "normal_clearing"));
		} else if (digit === 7) later(timing.unanswered, () => end(leg, "timeout"));
		else if (digit === 8) later(timing.unanswered, () => end(leg, "user_busy", "486"));
		else later(timing.unanswered, () => end(leg, "not_found", "404"));
		return leg;
	}

	const json = (res, status, body, headers = {}) => {
		res.writeHead(status, { "Content-Type": "application/json", ...headers });
		res.end(JSON.stringify(body));
	};
	const error = (res, status, code, title, detail, pointer, retryAfter) =>
		json(
			res,
			status,
			{ errors: [{ code, title, ...(detail ? { detail } : {}), ...(pointer ? { source: { pointer } } : {}) }] },
			retryAfter === undefined ? {} : { "Retry-After": String(retryAfter) },
		);
	const callData = (leg) => ({
		call_control_id: leg.callControlId,
		call_leg_id: leg.callLegId,
		call_session_id: leg.callSessionId,
		is_alive: leg.alive,
		record_type: "call",
	});
	const seenCommand = (key) => {
		const at = commands.get(key);
		return at !== undefined && Date.now() - at.at < COMMAND_WINDOW_MS ? at : undefined;
	};

	function dial(res, body) {
		for (const field of ["connection_id", "to", "from"]) {
			if (typeof body[field] !== "string" || !body[field])
				return error(
					res,
					422,
					"10004",
					"Missing required parameter",
					`The '${field}' parameter is required and cannot be blank.`,
					`/${field}`,
				);
		}
		if (body.connection_id !== connectionId)
			return error(
				res,
				422,
				"10015",
				"Invalid value for connection_id (Call Control App ID)",
				"The requested connection_id (Call Control App ID) is either invalid or does not exist.",
				"/connection_id",
			);
		if ((!E164.test(body.to) && !body.to.startsWith("sip:")) || refused.has(body.to))
			return error(
				res,
				422,
				"10016",
				"Phone number must be in +E164 format",
				"The 'to' parameter must be in E164 format.",
				"/to",
			);
		if (!E164.test(body.from))
			return error(
				res,
				422,
				"10016",
				"Phone number must be in +E164 format",
				"The 'from' parameter must be in E164 format.",
				"/from",
			);
		if (body.client_state !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(body.client_state))
			return error(
				res,
				422,
				"10015",
				"Invalid value for client_state",
				"It must be a valid Base-64 encoded string.",
				"/client_state",
			);
		if (
			body.timeout_secs !== undefined &&
			!(Number.isInteger(body.timeout_secs) && body.timeout_secs >= 5 && body.timeout_secs <= 600)
		)
			return error(res, 422, "10033", "Value outside of range", "timeout_secs must be between 5 and 600.", "/timeout_secs");
		const amdValues = ["premium", "detect", "detect_beep", "detect_words", "greeting_end", "disabled"];
		if (body.answering_machine_detection !== undefined && !amdValues.includes(body.answering_machine_detection))
			return error(
				res,
				422,
				"10032",
				"Invalid enumerated value",
				`The value must be one of: ${amdValues.join(", ")}.`,
				"/answering_machine_detection",
			);
		const repeated = body.command_id ? seenCommand(`dial:${body.command_id}`) : undefined;
		if (repeated) return json(res, 200, { data: callData(legs.get(repeated.id)) });
		const leg = newLeg({
			to: body.to,
			from: body.from,
			clientState: body.client_state ?? "",
			amd: body.answering_machine_detection === "detect" || body.answering_machine_detection === "premium",
			webhookUrl: body.webhook_url,
			parent: null,
		});
		if (body.command_id) commands.set(`dial:${body.command_id}`, { id: leg.callControlId, at: Date.now() });
		log(`dial ${body.to} → ${leg.callControlId}`);
		return json(res, 200, { data: callData(leg) });
	}

	function command(res, id, action, body) {
		const leg = legs.get(id);
		if (!leg) return error(res, 422, "90015", "Invalid Call Control ID", "The call_control_id provided was not valid.");
		const key = body.command_id ? `${action}:${id}:${body.command_id}` : null;
		if (key && seenCommand(key)) return json(res, 200, { data: { result: "ok" } });
		if (!leg.alive)
			return error(res, 422, "90018", "Call has already ended", "This call is no longer active and can't receive commands.");
		if (key) commands.set(key, { id, at: Date.now() });
		if (action === "hangup") {
			later(50, () => end(leg, "normal_clearing"));
			return json(res, 200, { data: { result: "ok" } });
		}
		if (typeof body.to !== "string" || !body.to)
			return error(res, 422, "10004", "Missing required parameter", "The 'to' parameter is required.", "/to");
		if ((!E164.test(body.to) && !body.to.startsWith("sip:")) || refused.has(body.to))
			return error(
				res,
				422,
				"10016",
				"Phone number must be in +E164 format",
				"The 'to' parameter must be in E164 format.",
				"/to",
			);
		if (body.client_state) leg.clientState = body.client_state;
		if (body.webhook_url) leg.webhookUrl = body.webhook_url;
		newLeg({
			to: body.to,
			from: body.from ?? leg.to,
			clientState: body.target_leg_client_state ?? "",
			amd: false,
			webhookUrl: body.webhook_url ?? leg.webhookUrl,
			parent: leg.callControlId,
		});
		log(`transfer ${id} → ${body.to}`);
		return json(res, 200, { data: { result: "ok" } });
	}

	function message(res, body) {
		if (typeof body.to !== "string" || !E164.test(body.to))
			return error(res, 422, "40310", "Invalid 'to' address", "The 'to' address should be in E.164 format.", "/to");
		if (typeof body.from !== "string" || !body.from)
			return error(res, 422, "40305", "Invalid 'from' address", undefined, "/from");
		if (typeof body.text !== "string" || !body.text) return error(res, 422, "40004", "Message body is empty", undefined, "/text");
		if (refused.has(body.to))
			return error(res, 422, "40310", "Invalid 'to' address", "The 'to' address is not reachable.", "/to");
		const id = `40318${randomUUID().replaceAll("-", "").slice(0, 24)}`;
		messages.set(id, { id, to: body.to, from: body.from, text: body.text, webhookUrl: body.webhook_url ?? null });
		const payload = (status) => ({
			record_type: "message",
			direction: "outbound",
			id,
			type: "SMS",
			from: { phone_number: body.from },
			to: [{ phone_number: body.to, status, carrier: "Stand-in Mobile", line_type: "Wireless" }],
			text: body.text,
			webhook_url: body.webhook_url ?? null,
			parts: 1,
			errors:
				status === "delivery_failed"
					? [{ code: "40008", title: "Undeliverable", detail: "The message could not be delivered to the handset." }]
					: [],
		});
		const event = (type, status) => {
			const text = JSON.stringify({
				data: {
					record_type: "event",
					event_type: type,
					id: randomUUID(),
					occurred_at: new Date().toISOString(),
					payload: payload(status),
				},
				meta: { attempt: 1, delivered_to: body.webhook_url },
			});
			if (body.webhook_url) deliver(body.webhook_url, text, { event_type: type, message_id: id, to: body.to });
		};
		later(200, () => event("message.sent", "sent"));
		later(600, () => event("message.finalized", body.to.endsWith("9") ? "delivery_failed" : "delivered"));
		return json(res, 200, { data: payload("queued") });
	}

	function activeCalls(res, url) {
		const size = Math.min(250, Number(url.searchParams.get("page[size]") ?? 20));
		const start = Number(url.searchParams.get("page[after]") ?? 0);
		const alive = [...legs.values()].filter((leg) => leg.alive);
		const page = alive.slice(start, start + size);
		const more = start + size < alive.length;
		return json(res, 200, {
			data: page.map((leg) => ({
				call_control_id: leg.callControlId,
				call_leg_id: leg.callLegId,
				call_session_id: leg.callSessionId,
				client_state: leg.clientState,
				call_duration: Math.floor((Date.now() - Date.parse(leg.startedAt)) / 1000),
				record_type: "call",
			})),
			meta: { cursors: more ? { after: String(start + size) } : {}, total_items: alive.length },
		});
	}

	const server = createServer(async (req, res) => {
		const url = new URL(req.url ?? "/", `http://${host}`);
		const chunks = [];
		for await (const chunk of req) chunks.push(chunk);
		const text = Buffer.concat(chunks).toString("utf8");
		let body = {};
		try {
			body = text ? JSON.parse(text) : {};
		} catch {
			body = null;
		}
		if (url.pathname.startsWith("/_control/")) {
			if (url.pathname === "/_control/faults" && req.method === "POST") {
				for (let i = 0; i < (body?.count ?? 1); i++) faults.push({ status: body?.status ?? 503, retryAfter: body?.retry_after });
				return json(res, 200, { queued: faults.length });
			}
			if (url.pathname === "/_control/refuse" && req.method === "POST") {
				refused.add(body?.number);
				return json(res, 200, { refused: [...refused] });
			}
			if (url.pathname === "/_control/log") return json(res, 200, snapshot());
			return json(res, 404, {});
		}
		requests.push({
			method: req.method,
			path: url.pathname,
			query: Object.fromEntries(url.searchParams),
			authorization: req.headers.authorization ?? null,
			body,
			at: Date.now(),
		});
		const fault = faults.shift();
		if (fault) {
			requests.at(-1).fault = fault.status;
			return error(
				res,
				fault.status,
				"10007",
				fault.status === 429 ? "Too many requests" : "Service unavailable",
				"Please retry later.",
				undefined,
				fault.retryAfter,
			);
		}
		if (req.headers.authorization !== `Bearer ${apiKey}`)
			return error(res, 401, "10009", "Authentication failed", "Could not understand the provided credentials.");
		if (req.method === "POST" && !String(req.headers["content-type"] ?? "").startsWith("application/json"))
			return error(res, 400, "10002", "Invalid content type");
		if (body === null) return error(res, 400, "10001", "Malformed JSON");
		if (req.method === "POST" && url.pathname === "/v2/calls") return dial(res, body);
		if (req.method === "GET" && url.pathname === `/v2/connections/${connectionId}/active_calls`) return activeCalls(res, url);
		const action = /^\/v2\/calls\/([^/]+)\/actions\/(hangup|transfer)$/.exec(url.pathname);
		if (req.method === "POST" && action) return command(res, decodeURIComponent(action[1]), action[2], body);
		if (req.method === "POST" && url.pathname === "/v2/messages") return message(res, body);
		return error(res, 404, "10005", "Resource not found");
	});
	const snapshot = () => ({
		requests,
		rang,
		deliveries: deliveries.map(({ body, ...rest }) => ({ ...rest, event: JSON.parse(body).data })),
		messages: [...messages.values()],
		legs: [...legs.values()],
	});

	await new Promise((resolve) => server.listen(port, host, resolve));
	return {
		url: `http://${host}:${port}`,
		requests,
		rang,
		deliveries,
		legs,
		messages,
		refuse: (number) => refused.add(number),
		fail: (count, status, retryAfter) => {
			for (let i = 0; i < count; i++) faults.push({ status, retryAfter });
		},
		/** Webhooks not yet delivered (or still being retried). */
		pending: () => pendingDeliveries,
		signed,
		async close() {
			for (const timer of timers) clearTimeout(timer);
			await new Promise((resolve) => server.close(resolve));
		},
	};
}
