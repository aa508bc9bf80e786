/**
 * An in-test Telnyx: answers the REST calls callgate's adapter makes (as `fetch` for
 * https://telnyx.standin) the way Telnyx documents them, records every request, plays each
 * call's lifecycle as signed webhooks the test delivers to the real route when and as often as
 * it likes, and stands in for the account's agent platform (https://agents.standin) that
 * receives forwarded call.answered events. Webhooks are signed with the fixture private key
 * (WebCrypto Ed25519) whose public half is TELNYX_PUBLIC_KEY in vitest.config.ts.
 *
 * Outcomes by the dialled number's last digit, like the simulated provider: 0–5 answered then
 * hung up (completed), 6 a machine when detection was asked (else completed), 7 no answer
 * (timeout), 8 busy (user_busy), 9 failed (not_found).
 */
import { TELNYX_TEST_PRIVATE_KEY_PKCS8 } from "./telnyx-test-key";

export const TELNYX_BASE = "https://telnyx.standin";
export const AGENT_PLATFORM = "https://agents.standin/answer";
export const API_KEY = "KEYtest-telnyx-api-key";
export const CONNECTION_ID = "1494404757140276705";
/** Where callgate tells Telnyx to send webhooks (PUBLIC_BASE_URL in vitest.config.ts). */
export const WEBHOOK_URL = "https://callgate.test/api/webhooks/telnyx";

export interface RecordedRequest {
	method: string;
	path: string;
	query: Record<string, string>;
	authorization: string | null;
	contentType: string | null;
	body: Record<string, unknown> | null;
}

export interface StandinLeg {
	callControlId: string;
	to: string;
	from: string;
	clientState: string;
	amd: boolean;
	alive: boolean;
	answered: boolean;
	/** The leg this one was transferred from (a click-to-call's agent leg). */
	parent: string | null;
}

export interface Webhook {
	/** The raw JSON as Telnyx would send it. */
	body: string;
	eventType: string;
	callControlId: string | null;
}

/** An answer forced on the next request: a status, no answer at all, "lost": done, but the answer never arrives, or null: answered normally. */
type Fault = { status: number; retryAfter?: string; body?: unknown } | "network" | "timeout" | "lost" | null;

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
	new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
const error = (status: number, code: string, title: string, detail?: string, pointer?: string) =>
	json({ errors: [{ code, title, ...(detail ? { detail } : {}), ...(pointer ? { source: { pointer } } : {}) }] }, status);

const E164 = /^\+[1-9]\d{6,14}$/;
const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const safeAtob = (value: string) => {
	try {
		return atob(value);
	} catch {
		return "";
	}
};

let signingKey: Promise<CryptoKey> | undefined;
function key(): Promise<CryptoKey> {
	signingKey ??= crypto.subtle.importKey(
		"pkcs8",
		Uint8Array.from(atob(TELNYX_TEST_PRIVATE_KEY_PKCS8), (c) => c.charCodeAt(0)),
		{ name: "Ed25519" },
		false,
		["sign"],
	);
	return signingKey;
}

/** Telnyx's two headers for a body: base64 Ed25519 over `{timestamp}|{body}`. */
export async function signTelnyx(body: string, timestampSeconds = Math.floor(Date.now() / 1000)) {
	const signature = new Uint8Array(
		await crypto.subtle.sign("Ed25519", await key(), new TextEncoder().encode(`${timestampSeconds}|${body}`)),
	);
	return { "telnyx-signature-ed25519": b64(signature), "telnyx-timestamp": String(timestampSeconds) };
}

export class TelnyxStandin {
	readonly requests: RecordedRequest[] = [];
	readonly legs = new Map<string, StandinLeg>();
	/** Webhooks produced and not yet handed to the test. */
	readonly outbox: Webhook[] = [];
	/** Every number Telnyx placed a call to (a leg created), in order. */
	readonly rang: string[] = [];
	readonly forwarded: { url: string; body: string; headers: Record<string, string> }[] = [];
	readonly messages = new Map<string, { to: string; from: string; text: string; webhookUrl: string }>();
	/** The next requests to /v2 answer these, in order, before anything is looked at. */
	readonly faults: Fault[] = [];
	/** Numbers refused with 422 (Telnyx 10016) on dial. */
	readonly refuse = new Set<string>();
	/** What the agent platform answers: its status, and a body (with its Content-Type) if set. */
	agentStatus = 200;
	agentAnswer: { body: string; contentType: string } | null = null;
	/** Commands Telnyx carried out (a repeated command_id is not among them), in order. */
	readonly carriedOut: { callControlId: string; action: string; body: Record<string, unknown> }[] = [];
	/** The instant events say they occurred at (ms): the test's clock. */
	clock: () => number = () => Date.now();
	/** While true, new legs stay ringing (alive, listed as active) until release(). */
	hold = false;
	private readonly held: StandinLeg[] = [];
	private readonly commands = new Map<string, string>();
	private sequence = 0;

	/** Install as globalThis.fetch (vi.spyOn(globalThis, "fetch").mockImplementation(standin.fetch)). */
	fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
		const request = new Request(input, init);
		const url = new URL(request.url);
		if (request.url.startsWith(AGENT_PLATFORM)) {
			this.forwarded.push({ url: request.url, body: await request.text(), headers: Object.fromEntries(request.headers) });
			const answer = this.agentAnswer;
			return new Response(answer?.body ?? null, {
				status: this.agentStatus,
				...(answer ? { headers: { "Content-Type": answer.contentType } } : {}),
			});
		}
		if (url.origin !== TELNYX_BASE) throw new TypeError(`the Telnyx stand-in does not serve ${request.url}`);
		const text = await request.text();
		let body: Record<string, unknown> | null = null;
		try {
			body = text ? (JSON.parse(text) as Record<string, unknown>) : null;
		} catch {
			body = null;
		}
		this.requests.push({
			method: request.method,
			path: url.pathname,
			query: Object.fromEntries(url.searchParams),
			authorization: request.headers.get("Authorization"),
			contentType: request.headers.get("Content-Type"),
			body,
		});
		const fault = this.faults.shift();
		if (fault === "lost") {
			await this.route(request, url, body);
			throw new TypeError("network connection lost");
		}
		if (fault === "network") throw new TypeError("fetch failed");
		if (fault === "timeout") throw new DOMException("The operation was aborted due to timeout", "TimeoutError");
		if (fault)
			return json(
				fault.body ?? { errors: [{ code: "10007", title: "Unexpected error" }] },
				fault.status,
				fault.retryAfter ? { "Retry-After": fault.retryAfter } : {},
			);
		return this.route(request, url, body);
	};

	private route(request: Request, url: URL, body: Record<string, unknown> | null): Response {
		if (request.headers.get("Authorization") !== `Bearer ${API_KEY}`) {
			return error(401, "10009", "Authentication failed", "Could not understand the provided credentials.");
		}
		if (request.method === "POST" && !request.headers.get("Content-Type")?.startsWith("application/json")) {
			return error(400, "10002", "Invalid content type");
		}
		if (request.method === "POST" && url.pathname === "/v2/calls") return this.dial(body ?? {});
		if (request.method === "GET" && url.pathname === `/v2/connections/${CONNECTION_ID}/active_calls`)
			return this.activeCalls(url);
		const action = /^\/v2\/calls\/([^/]+)\/actions\/(hangup|transfer|speak|streaming_start)$/.exec(url.pathname);
		if (request.method === "POST" && action)
			return this.command(decodeURIComponent(action[1] ?? ""), action[2] ?? "", body ?? {});
		if (request.method === "POST" && url.pathname === "/v2/messages") return this.message(body ?? {});
		return error(404, "10005", "Resource not found");
	}

	private dial(body: Record<string, unknown>): Response {
		for (const field of ["connection_id", "to", "from"]) {
			if (typeof body[field] !== "string" || body[field] === "")
				return error(
					422,
					"10004",
					"Missing required parameter",
					`The '${field}' parameter is required and cannot be blank.`,
					`/${field}`,
				);
		}
		if (body.connection_id !== CONNECTION_ID)
			return error(422, "10015", "Invalid value for connection_id (Call Control App ID)", undefined, "/connection_id");
		const to = String(body.to);
		if (!E164.test(to) && !to.startsWith("sip:"))
			return error(422, "10016", "Phone number must be in +E164 format", "The 'to' parameter must be in E164 format.", "/to");
		if (this.refuse.has(to))
			return error(422, "10016", "Phone number must be in +E164 format", "The 'to' parameter must be in E164 format.", "/to");
		if (typeof body.client_state === "string" && !/^[A-Za-z0-9+/]*={0,2}$/.test(body.client_state))
			return error(422, "10015", "Invalid value for client_state", "It must be a valid Base-64 encoded string.", "/client_state");
		// A repeated command_id is ignored: the call it created is the answer.
		const commandId = typeof body.command_id === "string" ? body.command_id : null;
		const repeated = commandId ? this.commands.get(`dial:${commandId}`) : undefined;
		if (repeated) return json({ data: this.callData(repeated) });
		const leg = this.newLeg(
			to,
			String(body.from),
			String(body.client_state ?? ""),
			body.answering_machine_detection === "detect",
			null,
		);
		if (commandId) this.commands.set(`dial:${commandId}`, leg.callControlId);
		return json({ data: this.callData(leg.callControlId) });
	}

	private callData(id: string) {
		return {
			call_control_id: id,
			call_leg_id: `leg-${id.slice(3)}`,
			call_session_id: `session-${id.slice(3)}`,
			is_alive: this.legs.get(id)?.alive ?? false,
			record_type: "call",
		};
	}

	private activeCalls(url: URL): Response {
		const size = Number(url.searchParams.get("page[size]") ?? 20);
		const alive = [...this.legs.values()].filter((leg) => leg.alive);
		const start = Number(url.searchParams.get("page[after]") ?? 0);
		const page = alive.slice(start, start + size);
		const more = start + size < alive.length;
		return json({
			data: page.map((leg) => ({
				call_control_id: leg.callControlId,
				call_leg_id: `leg-${leg.callControlId.slice(3)}`,
				call_session_id: `session-${leg.callControlId.slice(3)}`,
				client_state: leg.clientState,
				call_duration: 1,
				record_type: "call",
			})),
			meta: { cursors: more ? { after: String(start + size) } : {}, total_items: alive.length },
		});
	}

	private command(id: string, action: string, body: Record<string, unknown>): Response {
		const leg = this.legs.get(id);
		if (!leg) return error(422, "90015", "Invalid Call Control ID", "The call_control_id provided was not valid.");
		const commandId = typeof body.command_id === "string" ? `${action}:${id}:${body.command_id}` : null;
		if (commandId && this.commands.has(commandId)) return json({ data: { result: "ok" } });
		if (!leg.alive)
			return error(422, "90018", "Call has already ended", "This call is no longer active and can't receive commands.");
		if (commandId) this.commands.set(commandId, id);
		const done = () => {
			this.carriedOut.push({ callControlId: id, action, body });
			return json({ data: { result: "ok" } });
		};
		if (action === "speak") {
			if (typeof body.payload !== "string" || !body.payload || typeof body.voice !== "string" || !body.voice)
				return error(422, "10004", "Missing required parameter", "'payload' and 'voice' are required.");
			return done();
		}
		if (action === "streaming_start") {
			if (typeof body.stream_url !== "string" || !body.stream_url.startsWith("wss://"))
				return error(422, "10015", "Invalid value for stream_url", undefined, "/stream_url");
			return done();
		}
		if (action === "hangup") {
			this.carriedOut.push({ callControlId: id, action, body });
			this.end(leg, "normal_clearing");
			return json({ data: { result: "ok" } });
		}
		// transfer: a new leg to `to`, tagged with target_leg_client_state; the original stays up.
		if (typeof body.to !== "string" || !body.to)
			return error(422, "10004", "Missing required parameter", "The 'to' parameter is required.", "/to");
		if (!E164.test(body.to) && !body.to.startsWith("sip:"))
			return error(422, "10016", "Phone number must be in +E164 format", "The 'to' parameter must be in E164 format.", "/to");
		if (this.refuse.has(body.to))
			return error(422, "10016", "Phone number must be in +E164 format", "The 'to' parameter must be in E164 format.", "/to");
		if (typeof body.client_state === "string") leg.clientState = body.client_state;
		this.newLeg(body.to, String(body.from ?? leg.to), String(body.target_leg_client_state ?? ""), false, leg.callControlId);
		return done();
	}

	private message(body: Record<string, unknown>): Response {
		if (typeof body.to !== "string" || !E164.test(body.to))
			return error(422, "40310", "Invalid 'to' address", "The 'to' address should be in E.164 format.", "/to");
		if (typeof body.from !== "string" || !body.from) return error(422, "40305", "Invalid 'from' address", undefined, "/from");
		if (typeof body.text !== "string" || !body.text) return error(422, "40004", "Message body is empty", undefined, "/text");
		if (this.refuse.has(body.to)) return error(422, "40310", "Invalid 'to' address", "The 'to' address is not reachable.", "/to");
		const id = `40318${crypto.randomUUID()}`;
		const webhookUrl = String(body.webhook_url ?? "");
		this.messages.set(id, { to: body.to, from: body.from, text: body.text, webhookUrl });
		const digit = Number(body.to.at(-1));
		this.queueMessageEvent(id, "message.sent", "sent");
		if (digit === 9) this.queueMessageEvent(id, "message.finalized", "delivery_failed");
		else this.queueMessageEvent(id, "message.finalized", "delivered");
		return json({ data: this.messagePayload(id, "queued") });
	}

	private messagePayload(id: string, status: string) {
		const message = this.messages.get(id);
		return {
			record_type: "message",
			direction: "outbound",
			id,
			type: "SMS",
			from: { phone_number: message?.from },
			to: [{ phone_number: message?.to, status, carrier: "Stand-in Mobile", line_type: "Wireless" }],
			text: message?.text,
			webhook_url: message?.webhookUrl,
			parts: 1,
			errors:
				status === "delivery_failed"
					? [{ code: "40008", title: "Undeliverable", detail: "The message could not be delivered to the handset." }]
					: [],
		};
	}

	private queueMessageEvent(id: string, type: string, status: string) {
		this.outbox.push({ body: this.envelope(type, this.messagePayload(id, status)), eventType: type, callControlId: null });
	}

	private newLeg(to: string, from: string, clientState: string, amd: boolean, parent: string | null): StandinLeg {
		const leg: StandinLeg = {
			callControlId: `v3:${crypto.randomUUID()}`,
			to,
			from,
			clientState,
			amd,
			alive: true,
			answered: false,
			parent,
		};
		this.legs.set(leg.callControlId, leg);
		this.rang.push(to);
		this.emit(leg, "call.initiated", { direction: "outgoing", state: "bridging" });
		if (this.hold) this.held.push(leg);
		else this.progress(leg);
		return leg;
	}

	/** Plays the rest of a leg's life (answer, detection, hangup) by its number's last digit. */
	private progress(leg: StandinLeg): void {
		const { to, clientState, amd } = leg;
		const digit = Number(to.at(-1));
		// An agent (callgate tags its leg `;agent`) stays on the line until the customer's leg ends.
		const agent = safeAtob(clientState).endsWith(";agent");
		if (to.startsWith("sip:") || digit <= 6) {
			leg.answered = true;
			this.emit(leg, "call.answered", { state: "answered" });
			if (amd) this.emit(leg, "call.machine.detection.ended", { result: digit === 6 ? "machine" : "human" });
			// The far end hangs up after talking; a machine waits for callgate's hangup command.
			if (!agent && !(amd && digit === 6)) this.end(leg, "normal_clearing");
		} else if (digit === 7) this.end(leg, "timeout");
		else if (digit === 8) this.end(leg, "user_busy", "486");
		else this.end(leg, "not_found", "404");
	}

	/** The far end of a live leg hangs up now (e.g. an agent who leaves before the customer is bridged). */
	hangUp(callControlId: string, cause = "normal_clearing"): void {
		const leg = this.legs.get(callControlId);
		if (leg) this.end(leg, cause);
	}

	/** Legs held ringing (with `hold`) play the rest of their lives now. */
	release(pick: (leg: StandinLeg) => boolean = () => true): void {
		const keep: StandinLeg[] = [];
		for (const leg of this.held.splice(0)) {
			if (!leg.alive) continue;
			if (pick(leg)) this.progress(leg);
			else keep.push(leg);
		}
		this.held.push(...keep);
	}

	/** A leg ends: its call.hangup (and, for an answered agent leg whose customer hung up, the agent's too). */
	private end(leg: StandinLeg, cause: string, sip?: string) {
		if (!leg.alive) return;
		leg.alive = false;
		this.emit(leg, "call.hangup", {
			hangup_cause: cause,
			hangup_source: cause === "normal_clearing" ? "callee" : "unknown",
			sip_hangup_cause: sip ?? (cause === "normal_clearing" ? "200" : "unspecified"),
			state: "hangup",
		});
		// A bridged pair ends together.
		if (leg.parent && leg.answered) {
			const parent = this.legs.get(leg.parent);
			if (parent) this.end(parent, "normal_clearing");
		}
	}

	private emit(leg: StandinLeg, type: string, extra: Record<string, unknown>) {
		const payload = {
			call_control_id: leg.callControlId,
			call_leg_id: `leg-${leg.callControlId.slice(3)}`,
			call_session_id: `session-${leg.callControlId.slice(3)}`,
			client_state: leg.clientState,
			connection_id: CONNECTION_ID,
			from: leg.from,
			to: leg.to,
			...(type === "call.initiated" ? {} : { start_time: new Date(this.clock()).toISOString() }),
			...extra,
		};
		this.outbox.push({ body: this.envelope(type, payload), eventType: type, callControlId: leg.callControlId });
	}

	private envelope(type: string, payload: Record<string, unknown>) {
		const at = new Date(this.clock() + this.sequence++).toISOString();
		return JSON.stringify({
			data: { record_type: "event", event_type: type, id: crypto.randomUUID(), occurred_at: at, payload },
			meta: { attempt: 1, delivered_to: WEBHOOK_URL },
		});
	}

	/** Takes the webhooks produced so far (the test decides order, delays and duplicates). */
	take(): Webhook[] {
		return this.outbox.splice(0);
	}

	/** Requests to one path (e.g. "/v2/calls"). */
	to(path: string): RecordedRequest[] {
		return this.requests.filter((request) => request.path === path);
	}
}

/** Delivers one webhook to the real route through `call()`, signed now unless told otherwise. */
export async function deliver(
	call: (
		path: string,
		options: { method: string; rawBody: string; headers: Record<string, string>; unvalidated?: string },
	) => Promise<Response>,
	body: string,
	headers?: Record<string, string>,
): Promise<Response> {
	return call("/api/webhooks/telnyx", {
		method: "POST",
		rawBody: body,
		headers: { "Content-Type": "application/json", ...(headers ?? (await signTelnyx(body))) },
	});
}
