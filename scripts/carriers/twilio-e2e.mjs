// End to end with Twilio standing in: the Twilio stand-in (scripts/carriers/twilio-standin.mjs,
// callbacks signed with Twilio's official library) on 127.0.0.1:8788, callgate under
// `wrangler dev` (scripts/start.mjs) on 127.0.0.1:8798 with DIALER_PROVIDER and SMS_PROVIDER
// twilio, and a local receiver for the account's webhooks and its agent platform. From outside:
// the seed's batch-call payload dials every contact exactly once through Twilio (after a
// 503-with-Retry-After outage), the signed callbacks complete the calls, the webhooks fire, a
// click-to-call rings the agent and then bridges the customer, an SMS is sent and delivered, and
// a tampered callback is refused (401) and changes nothing. Exits non-zero on any failed check.
//
//   node scripts/carriers/twilio-e2e.mjs          (TWILIO_E2E_PORT / TWILIO_E2E_STANDIN_PORT to move it)
import { spawn, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { api as callApi } from "../api-client.mjs";
import { outcomeOf, startTwilioStandin } from "./twilio-standin.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const PORT = Number(process.env.TWILIO_E2E_PORT ?? 8798);
const STANDIN_PORT = Number(process.env.TWILIO_E2E_STANDIN_PORT ?? 8788);
const BASE = `http://127.0.0.1:${PORT}`;
const WORK_DIR = `${root}.wrangler/twilio-e2e`;
const ACCOUNT_SID = "AC00000000000000000000000000000e2e";
const AUTH_TOKEN = "e2e-twilio-auth-token";
const CALLER_ID = "+12125550100";
const DEADLINE_MS = 85_000;

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
const log = (message) => console.log(`[${elapsed()}] ${message}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const api = (path, options) => callApi(BASE, path, options);

const checks = [];
function check(name, ok, detail = "") {
	checks.push({ name, ok });
	console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? ` (${detail})` : ""}`);
}

async function until(what, test, timeoutMs = 30_000) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await test();
		if (value) return value;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await sleep(250);
	}
}

// --- a receiver for the account's webhooks and its agent platform ---

function startReceiver() {
	const hooks = [];
	const agent = [];
	const server = createServer(async (request, response) => {
		const chunks = [];
		for await (const chunk of request) chunks.push(chunk);
		const body = Buffer.concat(chunks).toString("utf8");
		const url = new URL(request.url, "http://127.0.0.1");
		if (url.pathname === "/agent") {
			agent.push({ query: Object.fromEntries(url.searchParams), signed: Boolean(request.headers["x-twilio-signature"]) });
			response.writeHead(200, { "Content-Type": "application/xml" });
			response.end('<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hello from the agent platform.</Say></Response>');
			return;
		}
		try {
			hooks.push({ id: request.headers["webhook-id"], signature: request.headers["webhook-signature"], event: JSON.parse(body) });
		} catch {
			hooks.push({ raw: body });
		}
		response.writeHead(204);
		response.end();
	});
	return new Promise((resolve) =>
		server.listen(0, "127.0.0.1", () => resolve({ server, hooks, agent, port: server.address().port })),
	);
}

// --- callgate: scripts/start.mjs in its own process group ---

let server = null;
async function startServer() {
	rmSync(WORK_DIR, { recursive: true, force: true });
	mkdirSync(WORK_DIR, { recursive: true });
	const logPath = `${WORK_DIR}/server.log`;
	const out = openSync(logPath, "w");
	const vars = {
		DIALER_PROVIDER: "twilio",
		SMS_PROVIDER: "twilio",
		TWILIO_API_BASE: `http://127.0.0.1:${STANDIN_PORT}`,
		TWILIO_ACCOUNT_SID: ACCOUNT_SID,
		TWILIO_AUTH_TOKEN: AUTH_TOKEN,
		PUBLIC_BASE_URL: BASE,
		SIMULATED_CALL_SECONDS: "1",
	};
	const child = spawn(
		process.execPath,
		[
			`${root}scripts/start.mjs`,
			"--persist-to",
			`${WORK_DIR}/state`,
			...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
		],
		{
			cwd: root,
			detached: true,
			stdio: ["ignore", out, out],
			env: { ...process.env, PORT: String(PORT), CI: "true", WRANGLER_SEND_METRICS: "false" },
		},
	);
	closeSync(out);
	server = { child, pgid: child.pid };
	let exited = null;
	child.once("exit", (code, signal) => {
		exited = signal ?? code;
	});
	const deadline = Date.now() + 60_000;
	while (Date.now() < deadline && exited === null) {
		if (readFileSync(logPath, "utf8").includes("Build failed")) break;
		try {
			if ((await fetch(`${BASE}/health`, { signal: AbortSignal.timeout(2000) })).ok) return logPath;
		} catch {}
		await sleep(250);
	}
	throw new Error(
		`callgate did not become healthy (exit ${exited}):\n${readFileSync(logPath, "utf8").split("\n").slice(-25).join("\n")}`,
	);
}

function stopServer() {
	if (!server) return;
	try {
		process.kill(-server.pgid, "SIGTERM");
	} catch {}
	const ps = spawnSync("ps", ["-o", "pid=", "-g", String(server.pgid)], { encoding: "utf8" });
	if (ps.stdout.trim()) {
		try {
			process.kill(-server.pgid, "SIGKILL");
		} catch {}
	}
	server = null;
}

/** A zone where the local time now is well inside [01:00, 23:00), so a window of the whole day is open. */
function openZone() {
	for (const zone of ["UTC", "Etc/GMT+6", "Etc/GMT-6"]) {
		const hour = Number(
			new Intl.DateTimeFormat("en-GB", { hour: "2-digit", hourCycle: "h23", timeZone: zone }).format(new Date()),
		);
		if (hour >= 1 && hour < 22) return zone;
	}
	return "UTC";
}

async function main() {
	const receiver = await startReceiver();
	const standin = await startTwilioStandin({
		port: STANDIN_PORT,
		callgateBase: BASE,
		accountSid: ACCOUNT_SID,
		authToken: AUTH_TOKEN,
		stepMs: 100,
		duplicate: 0.3,
		outOfOrder: 0.3,
	});
	log(`Twilio stand-in on ${standin.url}, receiver on 127.0.0.1:${receiver.port}`);
	await startServer();
	log(`callgate on ${BASE} (DIALER_PROVIDER=twilio, SMS_PROVIDER=twilio)`);

	// The platform admin creates the account; its owner logs in.
	const admin = await api("/api/auth/login", { body: { username: "admin", password: "admin-password" } });
	const username = `e2e${Date.now().toString(36)}`;
	const created = await api("/api/admin/accounts", {
		token: admin.body.token,
		body: { name: "Twilio e2e", username, password: "correct horse battery", default_region: "US", max_connections: 100 },
	});
	if (created.status !== 201) throw new Error(`account: ${created.status} ${JSON.stringify(created.body)}`);
	const token = (await api("/api/auth/login", { body: { username, password: "correct horse battery" } })).body.token;
	const callerId = await api("/api/pbx/caller-ids", { token, body: { number: CALLER_ID, label: "Main", is_default: true } });
	check("a caller id is registered", callerId.status === 201, `${callerId.status}`);
	const agentUrl = `http://127.0.0.1:${receiver.port}/agent`;
	let patched = await api("/api/account", { token, method: "PATCH", body: { agent_answer_url: agentUrl } });
	if (patched.status === 404 || patched.status === 405) {
		patched = await api(`/api/admin/accounts/${created.body.id}`, {
			token: admin.body.token,
			method: "PATCH",
			body: { agent_answer_url: agentUrl },
		});
	}
	check(
		"the account's agent_answer_url is set",
		patched.status === 200,
		`${patched.status} ${patched.status === 200 ? "" : JSON.stringify(patched.body)}`,
	);
	const endpoint = await api("/api/webhooks/endpoints", {
		token,
		body: { url: `http://127.0.0.1:${receiver.port}/hooks`, events: ["*"] },
	});
	check(
		"a webhook endpoint is registered",
		endpoint.status === 201,
		`${endpoint.status} ${endpoint.status === 201 ? "" : JSON.stringify(endpoint.body)}`,
	);

	// Twilio is down for the first round of dials (503, Retry-After 2 s): the campaign waits, then dials.
	standin.fail(4, 503, 2);
	// Then one answer is lost on the way (Twilio created the call): asked again, it is looked up, not dialled twice.
	standin.fail(1, "lose-answer");
	const contacts = Array.from({ length: 12 }, (_, i) => `+1212555${String(200 + i).padStart(4, "0")}`);
	const campaign = await api("/api/public/v1/batch-calls", {
		token,
		body: {
			name: "Scaling Test Campaign",
			agent_id: "1f4baf16-1540-4d91-9696-7f34b2f2cb77",
			contact_source: "inline",
			contacts,
			schedule_type: "immediate",
			timezone: openZone(),
			start_time: "00:00",
			end_time: "23:59",
			working_days: [1, 2, 3, 4, 5, 6, 7],
			max_concurrent_calls: 4,
			max_calls_per_day: 120,
			machine_detection: true,
		},
	});
	if (campaign.status !== 201) throw new Error(`campaign: ${campaign.status} ${JSON.stringify(campaign.body)}`);
	log(`campaign ${campaign.body.id} created (${contacts.length} contacts, machine detection on)`);
	const done = await until(
		"the campaign to complete",
		async () => {
			const view = await api(`/api/public/v1/batch-calls/${campaign.body.id}`, { token });
			return view.body?.status === "completed" ? view.body : null;
		},
		45_000,
	);
	await standin.settled();
	log(`campaign completed: ${JSON.stringify(done.live?.contacts ?? {})}`);

	const creates = standin.requests.filter((r) => r.method === "POST" && r.path.endsWith("/Calls.json"));
	const accepted = creates.filter((r) => r.status === 201);
	const perNumber = new Map();
	for (const request of accepted) {
		const to = new URLSearchParams(request.params).get("To");
		perNumber.set(to, (perNumber.get(to) ?? 0) + 1);
	}
	check(
		"every contact dialled exactly once through Twilio",
		contacts.every((n) => perNumber.get(n) === 1),
		`${accepted.length} calls created for ${contacts.length} contacts`,
	);
	check("the 503 outage was met and survived", creates.some((r) => r.status === 503) && accepted.length === contacts.length);
	const lost = accepted.filter((r) => r.lostAnswer);
	const lookups = standin.requests.filter((r) => r.method === "GET" && r.path.endsWith("/Calls.json"));
	check(
		"a create whose answer was lost was looked up when asked again, not dialled twice",
		lost.length === 1 && lookups.length > 0 && contacts.every((n) => perNumber.get(n) === 1),
		`${lost.length} lost answer, ${lookups.length} look-ups`,
	);
	const first = accepted[0];
	check(
		"Twilio was asked with basic auth, form-encoded, StatusCallbackEvent ×4, MachineDetection",
		first?.authorization === `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString("base64")}` &&
			first.contentType === "application/x-www-form-urlencoded" &&
			new URLSearchParams(first.params).getAll("StatusCallbackEvent").join(" ") === "initiated ringing answered completed" &&
			new URLSearchParams(first.params).get("MachineDetection") === "Enable",
	);
	const calls = await api(`/api/public/v1/batch-calls/${campaign.body.id}/calls?limit=100`, { token });
	const expected = (number) =>
		({ completed: "completed", voicemail: "voicemail", "no-answer": "no_answer", busy: "busy", failed: "failed" })[
			outcomeOf(number, true)
		];
	const wrong = (calls.body?.data ?? []).filter((c) => c.status !== expected(c.to_phone));
	check(
		"the signed callbacks completed every call with Twilio's outcome",
		calls.status === 200 && calls.body.data.length === contacts.length && wrong.length === 0,
		wrong.length ? JSON.stringify(wrong.map((c) => [c.to_phone, c.status])) : `${calls.body?.data?.length} calls`,
	);
	const duplicates = standin.callbacks.filter(
		(c, i, all) => all.findIndex((o) => o.signature === c.signature && o.url === c.url) !== i,
	);
	check(
		"duplicated and out-of-order callbacks were sent (and changed nothing)",
		duplicates.length > 0,
		`${duplicates.length} duplicates`,
	);
	const humans = contacts.filter((n) => outcomeOf(n, true) === "completed");
	check(
		"the agent platform was asked for every answered human, with agent_id and call_id, signed",
		receiver.agent.length === humans.length &&
			receiver.agent.every((r) => r.signed && r.query.agent_id === "1f4baf16-1540-4d91-9696-7f34b2f2cb77" && r.query.call_id),
		`${receiver.agent.length} of ${humans.length}`,
	);

	// Webhooks: one call.completed per call, the outage and the campaign's end.
	await until(
		"the webhooks",
		() =>
			receiver.hooks.filter((h) => h.event?.type === "call.completed").length >= contacts.length &&
			receiver.hooks.some((h) => h.event?.type === "campaign.completed"),
		20_000,
	).catch(() => null);
	const types = receiver.hooks.map((h) => h.event?.type);
	check(
		"webhooks fired: call.completed for every call, campaign.completed, provider_unavailable and provider_recovered",
		new Set(receiver.hooks.filter((h) => h.event?.type === "call.completed").map((h) => h.event.data?.call_id)).size ===
			contacts.length &&
			types.includes("campaign.completed") &&
			types.includes("campaign.provider_unavailable") &&
			types.includes("campaign.provider_recovered") &&
			receiver.hooks.every((h) => h.signature),
		[...new Set(types)].join(", "),
	);

	// A tampered callback: refused, and nothing changes.
	const completedCallback = standin.callbacks.find(
		(c) => c.kind === "status" && c.params.CallStatus === "completed" && c.status === 200,
	);
	const callId = new URL(completedCallback.url).searchParams.get("call_id");
	const before = await api(`/api/pbx/calls/${callId}`, { token });
	const tampered = await fetch(completedCallback.url, {
		method: "POST",
		headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": completedCallback.signature },
		body: new URLSearchParams({ ...completedCallback.params, CallStatus: "failed" }).toString(),
	});
	const unsigned = await fetch(completedCallback.url, {
		method: "POST",
		headers: { "Content-Type": "application/x-www-form-urlencoded" },
		body: new URLSearchParams(completedCallback.params).toString(),
	});
	const after = await api(`/api/pbx/calls/${callId}`, { token });
	check(
		"a tampered (and an unsigned) callback is refused with 401 and changes nothing",
		tampered.status === 401 && unsigned.status === 401 && JSON.stringify(before.body) === JSON.stringify(after.body),
		`${tampered.status}/${unsigned.status}, call ${after.body?.status}`,
	);

	// Click-to-call: the agent's SIP leg rings first, then the customer is bridged.
	const extension = await api("/api/pbx/extensions", {
		token,
		body: { extension: "1001", name: "Agent desk", sip_uri: "sip:agent-1001@pbx.example.com" },
	});
	check("an extension with a SIP URI is created", extension.status === 201, `${extension.status}`);
	const clickToCall = await api("/api/pbx/calls/click-to-call", {
		token,
		body: { from_extension: "1001", to_phone: "+12125550301" },
	});
	check(
		"click-to-call accepted",
		clickToCall.status === 201,
		`${clickToCall.status} ${clickToCall.status === 201 ? "" : JSON.stringify(clickToCall.body)}`,
	);
	const bridged = await until(
		"the click-to-call to complete",
		async () => {
			const view = await api(`/api/pbx/calls/${clickToCall.body.id}`, { token });
			return ["completed", "failed", "no_answer", "busy", "timeout"].includes(view.body?.status) ? view.body : null;
		},
		20_000,
	).catch(() => null);
	const agentLeg = [...standin.calls.values()].find((c) => c.to === "sip:agent-1001@pbx.example.com");
	const customerLeg = [...standin.calls.values()].find((c) => c.parentCallSid && c.parentCallSid === agentLeg?.sid);
	check(
		"the click-to-call rang the agent's SIP URI, then bridged the customer from the caller id, and completed",
		Boolean(agentLeg && customerLeg) &&
			customerLeg.to === "+12125550301" &&
			customerLeg.from === CALLER_ID &&
			bridged?.status === "completed",
		`agent ${agentLeg?.sid ?? "none"}, customer ${customerLeg?.to ?? "none"}, call ${bridged?.status ?? "not final"}`,
	);

	// SMS: sent through Messages.json, delivered by Twilio's signed callback.
	const sms = await api("/api/integrations/sms", {
		token,
		body: { to: "+12125550402", text: "Your appointment is confirmed & paid." },
	});
	check("SMS accepted", sms.status === 201, `${sms.status} ${sms.status === 201 ? "" : JSON.stringify(sms.body)}`);
	const delivered = await until(
		"the SMS to be delivered",
		async () => {
			const view = await api(`/api/integrations/sms/${sms.body.id}`, { token });
			return view.body?.status === "delivered" ? view.body : null;
		},
		20_000,
	).catch(() => null);
	const messageRequest = standin.requests.find(
		(r) => r.method === "POST" && r.path.endsWith("/Messages.json") && r.status === 201,
	);
	check(
		"the SMS went out through Messages.json (To, From, Body, StatusCallback) and was delivered",
		Boolean(messageRequest) &&
			new URLSearchParams(messageRequest.params).get("Body") === "Your appointment is confirmed & paid." &&
			delivered?.status === "delivered",
		delivered?.status ?? "not delivered",
	);
	await until("sms webhooks", () => receiver.hooks.some((h) => h.event?.type === "sms.delivered"), 10_000).catch(() => null);
	check(
		"the sms.delivered webhook fired",
		receiver.hooks.some((h) => h.event?.type === "sms.delivered"),
	);

	await standin.close();
	receiver.server.close();
}

const timer = setTimeout(() => {
	console.error(`FAIL the run took longer than ${DEADLINE_MS / 1000} s`);
	stopServer();
	process.exit(1);
}, DEADLINE_MS);

let failed = false;
try {
	await main();
} catch (error) {
	failed = true;
	console.error(`FAIL ${error instanceof Error ? error.message : String(error)}`);
} finally {
	stopServer();
	clearTimeout(timer);
}
const passed = checks.filter((c) => c.ok).length;
const failures = checks.length - passed + (failed ? 1 : 0);
console.log(`twilio-e2e: ${passed} passed, ${failures} failed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(failures ? 1 : 0);
