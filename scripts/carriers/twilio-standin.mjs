// A local stand-in for Twilio, for end-to-end runs outside workerd: it speaks Twilio's REST wire
// format for the endpoints callgate uses (Calls.json and Messages.json, create and list; HTTP
// basic auth, form-encoded bodies, Twilio's JSON error bodies), records every request, and plays
// each call's and message's life by sending callgate the callbacks Twilio would send, signed
// with Twilio's official library (the `twilio` package's getExpectedTwilioSignature).
//
// Outcomes by the number's last digit, like the simulated provider: 0–5 answered and completed,
// 6 a machine when detection was asked (else completed), 7 no answer, 8 busy, 9 failed. A
// message to a number ending in 9 is undelivered. A click-to-call's agent leg always answers;
// the stand-in then follows callgate's TwiML (<Dial><Number>) and plays the customer's leg.
//
// Control endpoints (JSON): POST /_control/faults {"count", "status", "retry_after"} makes the
// next `count` REST requests answer `status` (503, 429…) with Retry-After, or, with status
// "lose-answer", carry a create out and drop the connection before answering; POST /_control/refuse
// {"number"} makes Twilio refuse that number with 21211; GET /_control/log lists the requests;
// POST /_control/options {"duplicate", "out_of_order"} sets the callback chaos (probabilities).
//
//   node scripts/carriers/twilio-standin.mjs --port 8788 --callgate http://127.0.0.1:8787
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import twilio from "twilio";

const hex = (bytes) => randomBytes(bytes).toString("hex");
const rfc2822 = (at) => new Date(at).toUTCString().replace("GMT", "+0000");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** TwiML attribute and text values, unescaped (`&amp;` last, so `&amp;lt;` stays `&lt;`). */
const fromXml = (text) =>
	text
		.replaceAll("&lt;", "<")
		.replaceAll("&gt;", ">")
		.replaceAll("&quot;", '"')
		.replaceAll("&apos;", "'")
		.replaceAll("&amp;", "&");

function twilioError(response, status, code, message, headers = {}) {
	response.writeHead(status, { "Content-Type": "application/json", ...headers });
	response.end(JSON.stringify({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }));
}

function json(response, status, body) {
	response.writeHead(status, { "Content-Type": "application/json" });
	response.end(JSON.stringify(body));
}

/** The outcome a number plays, by its last digit. */
export function outcomeOf(number, machineDetection) {
	const digit = Number(String(number).at(-1));
	if (Number.isNaN(digit) || digit <= 5) return "completed";
	if (digit === 6) return machineDetection ? "voicemail" : "completed";
	return digit === 7 ? "no-answer" : digit === 8 ? "busy" : "failed";
}

/** Connection overrides in a callback URL's fragment (#rc=3&rp=ct,rt,5xx): how Twilio retries it. */
function overridesOf(url) {
	const fragment = new URLSearchParams(url.split("#")[1] ?? "");
	const retries = Math.min(5, Math.max(0, Number(fragment.get("rc") ?? 1)));
	const policy = (fragment.get("rp") ?? "ct").split(",");
	return { retries, policy };
}

export async function startTwilioStandin({
	port = 8788,
	callgateBase,
	accountSid = "AC00000000000000000000000000000e2e",
	authToken = "e2e-twilio-auth-token",
	stepMs = 150,
	duplicate = 0,
	outOfOrder = 0,
	random = Math.random,
	log = () => {},
} = {}) {
	const requests = [];
	const calls = new Map();
	const messages = new Map();
	const callbacks = [];
	const agentRequests = [];
	const faults = [];
	const refused = new Set();
	const options = { duplicate, outOfOrder };
	const pending = new Set();
	const prefix = `/2010-04-01/Accounts/${accountSid}`;
	const expectedAuth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString("base64")}`;

	/** POSTs a signed, form-encoded request to a URL callgate (or the agent platform) gave; retries as the URL's overrides say. */
	async function send(target, params, kind) {
		const url = target.split("#")[0];
		const { retries, policy } = overridesOf(target);
		const signature = twilio.getExpectedTwilioSignature(authToken, url, params);
		const body = new URLSearchParams(params).toString();
		for (let attempt = 0; attempt <= retries; attempt++) {
			let status = 0;
			let text = "";
			try {
				const response = await fetch(url, {
					method: "POST",
					headers: {
						"Content-Type": "application/x-www-form-urlencoded",
						"X-Twilio-Signature": signature,
						"User-Agent": "TwilioProxy/1.1",
					},
					body,
					signal: AbortSignal.timeout(15_000),
				});
				status = response.status;
				text = await response.text();
			} catch (error) {
				text = String(error);
			}
			callbacks.push({ kind, url, params, signature, status, at: Date.now() });
			const retry =
				status === 0
					? policy.includes("ct") || policy.includes("all")
					: status >= 500 && (policy.includes("5xx") || policy.includes("all"));
			if (!retry || attempt === retries) return { status, text };
			await sleep(200);
		}
	}

	function track(promise) {
		pending.add(promise);
		promise.finally(() => pending.delete(promise)).catch(() => {});
	}

	const base = (call) => ({
		AccountSid: accountSid,
		ApiVersion: "2010-04-01",
		CallSid: call.sid,
		Called: call.to,
		Caller: call.from,
		Direction: call.parentCallSid ? "outbound-dial" : "outbound-api",
		From: call.from,
		To: call.to,
		...(call.parentCallSid ? { ParentCallSid: call.parentCallSid } : {}),
	});

	/** The status callbacks of one call, with the chaos asked for: some duplicated, some out of order. */
	async function statusCallbacks(call, list) {
		let ordered = list.map((entry, index) => ({ ...entry, sequence: index }));
		if (options.outOfOrder && random() < options.outOfOrder && ordered.length > 1) {
			const i = Math.floor(random() * (ordered.length - 1));
			[ordered[i], ordered[i + 1]] = [ordered[i + 1], ordered[i]];
		}
		if (options.duplicate) ordered = ordered.flatMap((entry) => (random() < options.duplicate ? [entry, entry] : [entry]));
		for (const entry of ordered) {
			if (entry.status !== "initiated") call.status = entry.status;
			await send(
				call.statusCallback,
				{
					...base(call),
					CallStatus: entry.status,
					CallbackSource: "call-progress-events",
					SequenceNumber: String(entry.sequence),
					Timestamp: rfc2822(entry.at),
					...entry.extra,
				},
				"status",
			);
			await sleep(stepMs);
		}
	}

	/** Asks the call's Url for TwiML (signed) and follows it: a Redirect, a Hangup or a Dial. */
	async function instructions(call, extra) {
		const { text } = await send(call.url, { ...base(call), CallStatus: "in-progress", ...extra }, "answer");
		const redirect = /<Redirect[^>]*>([^<]+)<\/Redirect>/.exec(text);
		if (redirect) {
			const target = fromXml(redirect[1]);
			const answer = await send(target, { ...base(call), CallStatus: "in-progress", ...extra }, "agent");
			agentRequests.push({ url: target, status: answer.status, callSid: call.sid });
			return { kind: "agent" };
		}
		const dial = /<Dial callerId="([^"]+)"[^>]*><Number statusCallback="([^"]+)"[^>]*>([^<]+)<\/Number><\/Dial>/.exec(text);
		if (dial) {
			return { kind: "dial", callerId: fromXml(dial[1]), statusCallback: fromXml(dial[2]), to: fromXml(dial[3]) };
		}
		return { kind: "hangup" };
	}

	async function playCall(call) {
		const now = Date.now();
		await sleep(stepMs);
		if (call.agentLeg) {
			// The agent answers; callgate's TwiML bridges the customer.
			await statusCallbacks(call, [
				{ status: "initiated", at: now },
				{ status: "ringing", at: now + 1 },
			]);
			call.status = "in-progress";
			const twiml = await instructions(call, {});
			await statusCallbacks(call, [{ status: "in-progress", at: now + 2 }]);
			if (twiml.kind === "dial") {
				const child = {
					sid: `CA${hex(16)}`,
					to: twiml.to,
					from: twiml.callerId,
					statusCallback: twiml.statusCallback,
					parentCallSid: call.sid,
					dateCreated: Date.now(),
					status: "queued",
					machineDetection: null,
				};
				calls.set(child.sid, child);
				await playCustomer(child, false);
			}
			await statusCallbacks(call, [{ status: "completed", at: Date.now(), extra: { CallDuration: "12" } }]);
			return;
		}
		await playCustomer(call, call.machineDetection === "Enable");
	}

	async function playCustomer(call, machineDetection) {
		const now = Date.now();
		const outcome = outcomeOf(call.to, machineDetection);
		const answeredBy = machineDetection ? { AnsweredBy: outcome === "voicemail" ? "machine_start" : "human" } : {};
		if (outcome === "failed") {
			await statusCallbacks(call, [
				{ status: "initiated", at: now },
				{ status: "failed", at: now + 1, extra: { SipResponseCode: "503" } },
			]);
			return;
		}
		if (outcome === "no-answer" || outcome === "busy") {
			await statusCallbacks(call, [
				{ status: "initiated", at: now },
				{ status: "ringing", at: now + 1 },
				{ status: outcome, at: now + 2 },
			]);
			return;
		}
		await statusCallbacks(call, [
			{ status: "initiated", at: now },
			{ status: "ringing", at: now + 1 },
		]);
		call.status = "in-progress";
		// A campaign call's Url is asked once the call is answered (and, with detection, once Twilio knows who answered).
		if (!call.parentCallSid) await instructions(call, answeredBy);
		await statusCallbacks(call, [
			{ status: "in-progress", at: now + 2, extra: answeredBy },
			{ status: "completed", at: now + 3, extra: { ...answeredBy, CallDuration: "7" } },
		]);
	}

	async function playMessage(message) {
		await sleep(stepMs);
		const params = (status, extra = {}) => ({
			AccountSid: accountSid,
			ApiVersion: "2010-04-01",
			From: message.from,
			MessageSid: message.sid,
			MessageStatus: status,
			SmsSid: message.sid,
			SmsStatus: status,
			To: message.to,
			...extra,
		});
		if (!message.statusCallback) return;
		message.status = "sent";
		await send(message.statusCallback, params("sent"), "sms");
		await sleep(stepMs);
		const undelivered = String(message.to).endsWith("9");
		message.status = undelivered ? "undelivered" : "delivered";
		await send(message.statusCallback, params(message.status, undelivered ? { ErrorCode: "30003" } : {}), "sms");
	}

	const callJson = (call) => ({
		sid: call.sid,
		account_sid: accountSid,
		to: call.to,
		from: call.from,
		status: call.status,
		parent_call_sid: call.parentCallSid ?? null,
		date_created: rfc2822(call.dateCreated),
		start_time: call.status === "queued" ? null : rfc2822(call.dateCreated),
	});
	const messageJson = (m) => ({
		sid: m.sid,
		to: m.to,
		from: m.from,
		body: m.body,
		status: m.status,
		date_created: rfc2822(m.dateCreated),
		date_sent: m.status === "queued" ? null : rfc2822(m.dateCreated),
	});

	async function handle(request, response) {
		const url = new URL(request.url, `http://${request.headers.host}`);
		const chunks = [];
		for await (const chunk of request) chunks.push(chunk);
		const text = Buffer.concat(chunks).toString("utf8");
		if (url.pathname.startsWith("/_control/")) return control(request.method, url, text, response);
		const entry = {
			method: request.method,
			path: url.pathname,
			query: Object.fromEntries(url.searchParams),
			authorization: request.headers.authorization ?? null,
			contentType: request.headers["content-type"] ?? null,
			params: [...new URLSearchParams(text)],
			status: 0,
			at: Date.now(),
		};
		requests.push(entry);
		const answer = (status, code, message, headers) => {
			entry.status = status;
			twilioError(response, status, code, message, headers);
		};
		const fault = faults.shift();
		// The request is carried out, but the connection drops before the answer: Twilio has the
		// call (or message), the client cannot know.
		const loseAnswer = fault?.status === "lose-answer";
		if (fault && !loseAnswer) {
			return answer(
				fault.status,
				fault.status === 429 ? 20429 : 20500,
				fault.status === 429 ? "Too Many Requests" : "Service Unavailable",
				{
					...(fault.retryAfter ? { "Retry-After": String(fault.retryAfter) } : {}),
				},
			);
		}
		if (request.headers.authorization !== expectedAuth) return answer(401, 20003, "Authenticate");
		if (!url.pathname.startsWith(`${prefix}/`)) return answer(404, 20404, "The requested resource was not found");
		const resource = url.pathname.slice(prefix.length);
		if (request.method === "POST" && entry.contentType?.split(";")[0] !== "application/x-www-form-urlencoded") {
			return answer(400, 20001, "Content-Type must be application/x-www-form-urlencoded");
		}
		const form = new URLSearchParams(text);
		if (request.method === "POST" && resource === "/Calls.json") {
			const to = form.get("To");
			const from = form.get("From");
			if (!to) return answer(400, 21201, "No 'To' number is specified");
			if (!from) return answer(400, 21213, "No 'From' number is specified");
			if (!form.get("Url")) return answer(400, 21205, "Url parameter is required.");
			if (refused.has(to)) return answer(400, 21211, `The 'To' number ${to} is not a valid phone number.`);
			const call = {
				sid: `CA${hex(16)}`,
				to,
				from,
				url: form.get("Url"),
				statusCallback: form.get("StatusCallback"),
				events: form.getAll("StatusCallbackEvent"),
				machineDetection: form.get("MachineDetection"),
				agentLeg: new URL(form.get("Url")).searchParams.get("leg") === "agent",
				dateCreated: Date.now(),
				status: "queued",
				parentCallSid: null,
			};
			calls.set(call.sid, call);
			entry.status = 201;
			entry.lostAnswer = loseAnswer;
			if (loseAnswer) request.socket.destroy();
			else json(response, 201, callJson(call));
			log(`create call ${call.sid} to ${to}`);
			// A call whose answer was lost rings a little later, so callgate asks again (and looks) before it ends.
			track(loseAnswer ? sleep(3_000).then(() => playCall(call)) : playCall(call));
			return;
		}
		if (request.method === "GET" && resource === "/Calls.json") {
			const q = url.searchParams;
			const since = q.get("StartTime>");
			const list = [...calls.values()]
				.filter((c) => (!q.get("To") || c.to === q.get("To")) && (!q.get("From") || c.from === q.get("From")))
				.filter((c) => !q.get("Status") || c.status === q.get("Status"))
				.filter((c) => !since || (c.status !== "queued" && new Date(c.dateCreated).toISOString().slice(0, 10) >= since))
				.sort((a, b) => b.dateCreated - a.dateCreated);
			entry.status = 200;
			return json(response, 200, { calls: list.map(callJson), page: 0, page_size: Number(q.get("PageSize") ?? 50) });
		}
		if (request.method === "POST" && resource === "/Messages.json") {
			const to = form.get("To");
			if (!to) return answer(400, 21604, "A 'To' phone number is required.");
			if (!form.get("From")) return answer(400, 21603, "A 'From' phone number is required.");
			if (!form.get("Body")) return answer(400, 21602, "Message body is required.");
			if (refused.has(to)) return answer(400, 21211, `The 'To' number ${to} is not a valid phone number.`);
			const message = {
				sid: `SM${hex(16)}`,
				to,
				from: form.get("From"),
				body: form.get("Body"),
				statusCallback: form.get("StatusCallback"),
				dateCreated: Date.now(),
				status: "queued",
			};
			messages.set(message.sid, message);
			entry.status = 201;
			if (loseAnswer) request.socket.destroy();
			else json(response, 201, messageJson(message));
			track(playMessage(message));
			return;
		}
		if (request.method === "GET" && resource === "/Messages.json") {
			const q = url.searchParams;
			const since = q.get("DateSent>");
			const list = [...messages.values()]
				.filter((m) => (!q.get("To") || m.to === q.get("To")) && (!q.get("From") || m.from === q.get("From")))
				.filter((m) => !since || (m.status !== "queued" && new Date(m.dateCreated).toISOString().slice(0, 10) >= since))
				.sort((a, b) => b.dateCreated - a.dateCreated);
			entry.status = 200;
			return json(response, 200, { messages: list.map(messageJson) });
		}
		return answer(404, 20404, "The requested resource was not found");
	}

	function control(method, url, text, response) {
		const body = text ? JSON.parse(text) : {};
		if (method === "POST" && url.pathname === "/_control/faults") {
			for (let i = 0; i < (body.count ?? 1); i++) faults.push({ status: body.status ?? 503, retryAfter: body.retry_after });
			return json(response, 200, { queued: faults.length });
		}
		if (method === "POST" && url.pathname === "/_control/refuse") {
			refused.add(body.number);
			return json(response, 200, { refused: [...refused] });
		}
		if (method === "POST" && url.pathname === "/_control/options") {
			if (body.duplicate !== undefined) options.duplicate = body.duplicate;
			if (body.out_of_order !== undefined) options.outOfOrder = body.out_of_order;
			return json(response, 200, options);
		}
		if (method === "GET" && url.pathname === "/_control/log") return json(response, 200, { requests, callbacks });
		return json(response, 404, { message: "no such control" });
	}

	const server = createServer((request, response) => {
		handle(request, response).catch((error) => {
			response.writeHead(500, { "Content-Type": "application/json" });
			response.end(JSON.stringify({ code: 20500, message: String(error), status: 500 }));
		});
	});
	await new Promise((resolve, reject) => {
		server.once("error", reject);
		server.listen(port, "127.0.0.1", resolve);
	});
	if (!callgateBase) log("no callgate base given: callbacks go to the URLs callgate sends");
	return {
		url: `http://127.0.0.1:${port}`,
		accountSid,
		authToken,
		requests,
		calls,
		messages,
		callbacks,
		agentRequests,
		refuse: (number) => refused.add(number),
		fail: (count, status, retryAfter) => {
			for (let i = 0; i < count; i++) faults.push({ status, retryAfter });
		},
		options,
		/** Resolves once every call and message started so far has played its callbacks. */
		settled: async () => {
			while (pending.size) await Promise.allSettled([...pending]);
		},
		/** Signs like Twilio (the official library), for checks from outside. */
		sign: (url, params) => twilio.getExpectedTwilioSignature(authToken, url, params),
		close: () => new Promise((resolve) => server.close(() => resolve())),
	};
}

// Run on its own: `node scripts/carriers/twilio-standin.mjs --port 8788 --callgate http://127.0.0.1:8787`.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const arg = (name, fallback) => {
		const at = process.argv.indexOf(`--${name}`);
		return at < 0 ? fallback : process.argv[at + 1];
	};
	const standin = await startTwilioStandin({
		port: Number(arg("port", 8788)),
		callgateBase: arg("callgate", "http://127.0.0.1:8787"),
		accountSid: arg("account-sid", process.env.TWILIO_ACCOUNT_SID ?? "AC00000000000000000000000000000e2e"),
		authToken: arg("auth-token", process.env.TWILIO_AUTH_TOKEN ?? "e2e-twilio-auth-token"),
		duplicate: Number(arg("duplicate", 0)),
		outOfOrder: Number(arg("out-of-order", 0)),
		log: (line) => console.log(line),
	});
	console.log(`Twilio stand-in on ${standin.url} (account ${standin.accountSid})`);
}
