/**
 * An in-test stand-in of Twilio's REST API (the parts callgate uses: Calls.json and
 * Messages.json, create and list), answering callgate's fetches inside workerd, and of
 * Twilio's callbacks: it builds the form-encoded status callbacks and instruction requests
 * Twilio would send, signed as Twilio documents it. Its signer is written here on its own
 * (not callgate's verifier); test/twilio-signature.test.ts checks both against signatures
 * made by Twilio's official library.
 */

export const STANDIN_BASE = "https://twilio.standin";
export const PUBLIC_BASE = "https://callgate.test";

export interface RecordedRequest {
	method: string;
	url: URL;
	path: string;
	headers: Headers;
	/** The form body's parameters in order (repeated names kept). */
	params: [string, string][];
	/** What the stand-in answered (0: it threw or hung). */
	status: number;
}

export interface StandinCall {
	sid: string;
	to: string;
	from: string;
	url: string;
	statusCallback: string;
	events: string[];
	machineDetection: string | null;
	timeout: string | null;
	/** The create request's TimeLimit: Twilio ends the call that many seconds after it was answered (see endOverdue). */
	timeLimit: string | null;
	/** When the call was answered (its instructions request or its in-progress callback), epoch ms. */
	answeredAt: number | null;
	dateCreated: number;
	status: string;
	parentCallSid: string | null;
}

const FINAL_STATUSES = new Set(["completed", "busy", "no-answer", "failed", "canceled"]);

export interface StandinMessage {
	sid: string;
	to: string;
	from: string;
	body: string;
	statusCallback: string | null;
	dateCreated: number;
	status: string;
}

export type Fault =
	| { kind: "status"; status: number; retryAfter?: string; code?: number; message?: string }
	| { kind: "throw" }
	/** Waits for the request's abort signal (a timeout), like a server that never answers. */
	| { kind: "hang" }
	/** Creates the call, then the connection drops before the answer: the carrier has it, callgate does not know. */
	| { kind: "lose-answer" };

/** A callback as Twilio would send it: POST to `path` (on callgate), form body, signature header. */
export interface SignedCallback {
	path: string;
	body: string;
	signature: string;
	params: Record<string, string>;
}

const hex = (length: number) =>
	[...crypto.getRandomValues(new Uint8Array(length / 2))].map((b) => b.toString(16).padStart(2, "0")).join("");

const rfc2822 = (at: number) => new Date(at).toUTCString().replace("GMT", "+0000");

/** Twilio's request signature, written independently of callgate's: URL + sorted name/value pairs, HMAC-SHA1, base64. */
export async function standinSign(authToken: string, url: string, params: Record<string, string>): Promise<string> {
	const data = Object.keys(params)
		.sort()
		.reduce((text, name) => text + name + params[name], url);
	const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(authToken), { name: "HMAC", hash: "SHA-1" }, false, [
		"sign",
	]);
	const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(data)));
	let binary = "";
	for (const byte of mac) binary += String.fromCharCode(byte);
	return btoa(binary);
}

const twilioError = (status: number, code: number, message: string, headers: Record<string, string> = {}) =>
	Response.json(
		{ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status },
		{ status, headers: { "Content-Type": "application/json", ...headers } },
	);

export class TwilioStandin {
	readonly requests: RecordedRequest[] = [];
	readonly calls = new Map<string, StandinCall>();
	readonly messages = new Map<string, StandinMessage>();
	/** Applied to the next requests, one each, in order. */
	readonly faults: Fault[] = [];
	/** Numbers Twilio refuses (21211, not a valid phone number). */
	readonly refused = new Set<string>();
	/** The most calls live at Twilio at once (not final), counted when each call is created. */
	peakLive = 0;

	constructor(
		readonly accountSid: string,
		readonly authToken: string,
		readonly now: () => number = () => Date.now(),
	) {}

	/** Every Create Call request, in order (including refused ones). */
	creates(): RecordedRequest[] {
		return this.requests.filter((r) => r.method === "POST" && r.path.endsWith("/Calls.json"));
	}

	/** The fetch callgate's adapter sees: this stand-in for its host, the real one for anything else. */
	fetchFor(real: typeof fetch): typeof fetch {
		return async (input, init) => {
			const request = new Request(input, init);
			if (!request.url.startsWith(STANDIN_BASE)) return real(input, init);
			return this.handle(request, init?.signal ?? request.signal);
		};
	}

	private async handle(request: Request, signal: AbortSignal | null | undefined): Promise<Response> {
		const url = new URL(request.url);
		const text = request.method === "POST" ? new TextDecoder().decode(await request.arrayBuffer()) : "";
		const recorded: RecordedRequest = {
			method: request.method,
			url,
			path: url.pathname,
			headers: request.headers,
			params: [...new URLSearchParams(text)],
			status: 0,
		};
		this.requests.push(recorded);
		const fault = this.faults.shift();
		if (fault?.kind === "throw") throw new TypeError("Network connection lost.");
		if (fault?.kind === "hang") {
			await new Promise<never>((_, reject) => {
				const fail = () => reject(signal?.reason ?? new DOMException("The operation timed out.", "TimeoutError"));
				if (signal?.aborted) fail();
				signal?.addEventListener("abort", fail);
			});
		}
		if (fault?.kind === "status") {
			recorded.status = fault.status;
			return twilioError(
				fault.status,
				fault.code ?? (fault.status === 429 ? 20429 : 20500),
				fault.message ?? (fault.status === 429 ? "Too Many Requests" : "Service Unavailable"),
				fault.retryAfter ? { "Retry-After": fault.retryAfter } : {},
			);
		}
		const response = this.route(request.method, url, recorded);
		recorded.status = response.status;
		if (fault?.kind === "lose-answer") throw new TypeError("Network connection lost.");
		return response;
	}

	private route(method: string, url: URL, recorded: RecordedRequest): Response {
		const prefix = `/2010-04-01/Accounts/${this.accountSid}`;
		const auth = `Basic ${btoa(`${this.accountSid}:${this.authToken}`)}`;
		if (recorded.headers.get("Authorization") !== auth) return twilioError(401, 20003, "Authenticate");
		if (!url.pathname.startsWith(`${prefix}/`)) return twilioError(404, 20404, "The requested resource was not found");
		const resource = url.pathname.slice(prefix.length);
		if (method === "POST") {
			if (recorded.headers.get("Content-Type") !== "application/x-www-form-urlencoded") {
				return twilioError(400, 20001, "Content-Type must be application/x-www-form-urlencoded");
			}
			const form = new URLSearchParams(recorded.params);
			if (resource === "/Calls.json") return this.createCall(form);
			if (resource === "/Messages.json") return this.createMessage(form);
		}
		if (method === "GET" && resource === "/Calls.json") return this.listCalls(url.searchParams);
		if (method === "GET" && resource === "/Messages.json") return this.listMessages(url.searchParams);
		return twilioError(404, 20404, "The requested resource was not found");
	}

	private createCall(form: URLSearchParams): Response {
		const to = form.get("To");
		const from = form.get("From");
		if (!to) return twilioError(400, 21201, "No 'To' number is specified");
		if (!from) return twilioError(400, 21213, "No 'From' number is specified");
		if (!form.get("Url") && !form.get("Twiml")) return twilioError(400, 21205, "Url parameter is required.");
		if (this.refused.has(to)) return twilioError(400, 21211, `The 'To' number ${to} is not a valid phone number.`);
		const call: StandinCall = {
			sid: `CA${hex(32)}`,
			to,
			from,
			url: form.get("Url") ?? "",
			statusCallback: form.get("StatusCallback") ?? "",
			events: form.getAll("StatusCallbackEvent"),
			machineDetection: form.get("MachineDetection"),
			timeout: form.get("Timeout"),
			timeLimit: form.get("TimeLimit"),
			answeredAt: null,
			dateCreated: this.now(),
			status: "queued",
			parentCallSid: null,
		};
		this.calls.set(call.sid, call);
		this.peakLive = Math.max(this.peakLive, this.live().length);
		return Response.json(this.callJson(call), { status: 201 });
	}

	private callJson(call: StandinCall) {
		return {
			sid: call.sid,
			account_sid: this.accountSid,
			to: call.to,
			from: call.from,
			status: call.status,
			parent_call_sid: call.parentCallSid,
			date_created: rfc2822(call.dateCreated),
			start_time: call.status === "queued" ? null : rfc2822(call.dateCreated),
			uri: `/2010-04-01/Accounts/${this.accountSid}/Calls/${call.sid}.json`,
		};
	}

	private listCalls(query: URLSearchParams): Response {
		const since = query.get("StartTime>");
		const calls = [...this.calls.values()]
			.filter(
				(call) => (!query.get("To") || call.to === query.get("To")) && (!query.get("From") || call.from === query.get("From")),
			)
			.filter((call) => !query.get("Status") || call.status === query.get("Status"))
			// A day filter on the start time: queued calls have none.
			.filter((call) => !since || (call.status !== "queued" && new Date(call.dateCreated).toISOString().slice(0, 10) >= since))
			.sort((a, b) => b.dateCreated - a.dateCreated);
		return Response.json({ calls: calls.map((call) => this.callJson(call)), page: 0, page_size: 50 });
	}

	private createMessage(form: URLSearchParams): Response {
		const to = form.get("To");
		const from = form.get("From");
		const body = form.get("Body");
		if (!to) return twilioError(400, 21604, "A 'To' phone number is required.");
		if (!from) return twilioError(400, 21603, "A 'From' phone number is required.");
		if (!body) return twilioError(400, 21602, "Message body is required.");
		if (this.refused.has(to)) return twilioError(400, 21211, `The 'To' number ${to} is not a valid phone number.`);
		const message: StandinMessage = {
			sid: `SM${hex(32)}`,
			to,
			from,
			body,
			statusCallback: form.get("StatusCallback"),
			dateCreated: this.now(),
			status: "queued",
		};
		this.messages.set(message.sid, message);
		return Response.json(this.messageJson(message), { status: 201 });
	}

	private messageJson(message: StandinMessage) {
		return {
			sid: message.sid,
			to: message.to,
			from: message.from,
			body: message.body,
			status: message.status,
			date_created: rfc2822(message.dateCreated),
			date_sent: message.status === "queued" ? null : rfc2822(message.dateCreated),
		};
	}

	private listMessages(query: URLSearchParams): Response {
		const since = query.get("DateSent>");
		const messages = [...this.messages.values()]
			.filter((m) => (!query.get("To") || m.to === query.get("To")) && (!query.get("From") || m.from === query.get("From")))
			.filter((m) => !since || (m.status !== "queued" && new Date(m.dateCreated).toISOString().slice(0, 10) >= since))
			.sort((a, b) => b.dateCreated - a.dateCreated);
		return Response.json({ messages: messages.map((m) => this.messageJson(m)) });
	}

	/** Signs a request to one of the URLs callgate gave Twilio (the fragment is not sent; by default not signed either). */
	async signed(
		target: string,
		params: Record<string, string>,
		options: { signFragment?: boolean } = {},
	): Promise<SignedCallback> {
		const withoutFragment = target.split("#")[0] ?? target;
		if (!withoutFragment.startsWith(PUBLIC_BASE)) throw new Error(`not a callgate URL: ${target}`);
		const signature = await standinSign(this.authToken, options.signFragment ? target : withoutFragment, params);
		return {
			path: withoutFragment.slice(PUBLIC_BASE.length),
			body: new URLSearchParams(params).toString(),
			signature,
			params,
		};
	}

	/** The calls Twilio holds that have not ended. */
	live(): StandinCall[] {
		return [...this.calls.values()].filter((call) => !FINAL_STATUSES.has(call.status));
	}

	/**
	 * Twilio enforcing TimeLimit: each answered call whose limit has passed by `now` ends
	 * `completed`; its status callback (at the instant it ended) is returned for the test to deliver.
	 */
	async endOverdue(now = this.now()): Promise<SignedCallback[]> {
		const ended: SignedCallback[] = [];
		for (const call of this.live()) {
			if (call.timeLimit === null || call.answeredAt === null) continue;
			const endsAt = call.answeredAt + Number(call.timeLimit) * 1000;
			if (endsAt > now) continue;
			ended.push(await this.statusCallback(call.sid, "completed", { CallDuration: call.timeLimit }, endsAt));
		}
		return ended;
	}

	/** A status callback for a call the stand-in holds (CallStatus and whatever else Twilio adds for it). */
	statusCallback(sid: string, status: string, extra: Record<string, string> = {}, at = this.now()): Promise<SignedCallback> {
		const call = this.calls.get(sid);
		if (!call) throw new Error(`no call ${sid}`);
		if (status !== "initiated") call.status = status;
		if (status === "in-progress") call.answeredAt ??= at;
		return this.signed(call.statusCallback, {
			AccountSid: this.accountSid,
			ApiVersion: "2010-04-01",
			CallSid: sid,
			CallStatus: status,
			CallbackSource: "call-progress-events",
			Called: call.to,
			Caller: call.from,
			Direction: call.parentCallSid ? "outbound-dial" : "outbound-api",
			From: call.from,
			To: call.to,
			SequenceNumber: String(call.events.length),
			Timestamp: rfc2822(at),
			...(call.parentCallSid ? { ParentCallSid: call.parentCallSid } : {}),
			...extra,
		});
	}

	/** Twilio's request for instructions when the call is answered (to the create request's Url). */
	answerRequest(sid: string, extra: Record<string, string> = {}): Promise<SignedCallback> {
		const call = this.calls.get(sid);
		if (!call) throw new Error(`no call ${sid}`);
		call.status = "in-progress";
		call.answeredAt ??= this.now();
		return this.signed(call.url, {
			AccountSid: this.accountSid,
			ApiVersion: "2010-04-01",
			CallSid: sid,
			CallStatus: "in-progress",
			Called: call.to,
			Caller: call.from,
			Direction: "outbound-api",
			From: call.from,
			To: call.to,
			...extra,
		});
	}

	/** The child call a `<Dial><Number statusCallback=…>` starts (a click-to-call's customer leg). */
	dialChild(parentSid: string, to: string, from: string, statusCallback: string): StandinCall {
		const child: StandinCall = {
			sid: `CA${hex(32)}`,
			to,
			from,
			url: "",
			statusCallback,
			events: ["initiated", "ringing", "answered", "completed"],
			machineDetection: null,
			timeout: null,
			timeLimit: null,
			answeredAt: null,
			dateCreated: this.now(),
			status: "queued",
			parentCallSid: parentSid,
		};
		this.calls.set(child.sid, child);
		return child;
	}

	/** A message status callback. */
	messageCallback(sid: string, status: string, extra: Record<string, string> = {}): Promise<SignedCallback> {
		const message = this.messages.get(sid);
		if (!message?.statusCallback) throw new Error(`no message callback for ${sid}`);
		message.status = status;
		return this.signed(message.statusCallback, {
			AccountSid: this.accountSid,
			ApiVersion: "2010-04-01",
			From: message.from,
			MessageSid: sid,
			MessageStatus: status,
			SmsSid: sid,
			SmsStatus: status,
			To: message.to,
			...extra,
		});
	}
}

/** The headers Twilio sends with a callback. */
export const callbackHeaders = (callback: SignedCallback, signature = callback.signature): Record<string, string> => ({
	"Content-Type": "application/x-www-form-urlencoded",
	"X-Twilio-Signature": signature,
	"User-Agent": "TwilioProxy/1.1",
});
