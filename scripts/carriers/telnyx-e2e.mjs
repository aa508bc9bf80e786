// End to end with Telnyx, from outside: the Telnyx stand-in (scripts/carriers/telnyx-standin.mjs)
// on 127.0.0.1:8789 and `wrangler dev` (scripts/start.mjs, its own persist dir) on
// 127.0.0.1:8799 with DIALER_PROVIDER=telnyx and SMS_PROVIDER=telnyx pointed at it, and a fresh
// Ed25519 key pair: the stand-in signs with the private half, callgate verifies with the public
// half (TELNYX_PUBLIC_KEY). Then, as a customer would: an account, a caller id, its
// agent_answer_url and a webhook endpoint (both at a local receiver), the seed's batch-call
// payload (immediate, a window open now), a Telnyx outage (503 with Retry-After) survived, a
// click-to-call (agent first, then the customer), an SMS, a tampered and a stale callback
// refused (401, nothing changed), and the `telnyx` package's own webhook verification agreeing
// with callgate's on every delivery. Exits non-zero on any failed check.
import { spawn } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { fileURLToPath } from "node:url";
import { Webhook as StandardWebhook } from "standardwebhooks";
import Telnyx from "telnyx";
import { api as callApi } from "../api-client.mjs";
import { startTelnyxStandin } from "./telnyx-standin.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const SERVER_PORT = Number(process.env.TELNYX_E2E_PORT ?? 8799);
const STANDIN_PORT = Number(process.env.TELNYX_STANDIN_PORT ?? 8789);
const BASE = `http://127.0.0.1:${SERVER_PORT}`;
const WORK_DIR = `${root}.wrangler/telnyx-e2e`;
const API_KEY = `KEY${randomUUID().replaceAll("-", "")}`;
const CONNECTION_ID = "2200000000000000001";
const CALLER_ID = "+12125550100";
const AGENT_ID = "1f4baf16-1540-4d91-9696-7f34b2f2cb77";
const AGENT_SIP = "sip:agent1001@agents.example.com";

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
const log = (message) => console.log(`[${elapsed()}] ${message}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const checks = [];
function check(name, ok, detail = "") {
	checks.push({ name, ok: Boolean(ok), detail });
	console.log(`${ok ? "  ok  " : "  FAIL"} ${name}${detail ? ` — ${detail}` : ""}`);
}

const api = (path, options = {}) => callApi(BASE, path, options);

async function until(what, fn, timeoutMs = 30_000, everyMs = 250) {
	const deadline = Date.now() + timeoutMs;
	let last;
	while (Date.now() < deadline) {
		last = await fn();
		if (last) return last;
		await sleep(everyMs);
	}
	throw new Error(`timed out waiting for ${what}`);
}

// --- a fresh key pair: Telnyx's is per account; this run's is per run ---
const { publicKey, privateKey } = generateKeyPairSync("ed25519");
// The raw 32-byte key is the SPKI DER's tail, base64 as the Telnyx portal shows it.
const PUBLIC_KEY = publicKey.export({ format: "der", type: "spki" }).subarray(-32).toString("base64");
const telnyxLibrary = new Telnyx({ apiKey: API_KEY, publicKey: PUBLIC_KEY });
/** The official library's verdict on one delivery (throws on a bad one). */
async function libraryAccepts(body, headers) {
	try {
		await telnyxLibrary.webhooks.unwrap(body, { headers });
		return true;
	} catch {
		return false;
	}
}

// --- the receiver: the account's webhook endpoint and its agent platform ---
const received = { events: [], agent: [] };
let webhookSecret = null;
const receiver = createServer(async (req, res) => {
	const chunks = [];
	for await (const chunk of req) chunks.push(chunk);
	const body = Buffer.concat(chunks).toString("utf8");
	const url = new URL(req.url ?? "/", "http://127.0.0.1");
	if (url.pathname === "/agent") received.agent.push({ url, body, headers: req.headers });
	if (url.pathname === "/hooks") {
		let verified = false;
		try {
			new StandardWebhook(webhookSecret).verify(body, {
				"webhook-id": req.headers["webhook-id"],
				"webhook-timestamp": req.headers["webhook-timestamp"],
				"webhook-signature": req.headers["webhook-signature"],
			});
			verified = true;
		} catch {}
		received.events.push({ ...JSON.parse(body), verified });
	}
	res.writeHead(204).end();
});

function portFree(port) {
	return new Promise((resolve) => {
		const probe = createNetServer();
		probe.once("error", () => resolve(false));
		probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
	});
}

// --- the server ---
let server = null;
async function startServer() {
	rmSync(WORK_DIR, { recursive: true, force: true });
	mkdirSync(WORK_DIR, { recursive: true });
	const logPath = `${WORK_DIR}/server.log`;
	const out = openSync(logPath, "w");
	const vars = {
		DIALER_PROVIDER: "telnyx",
		SMS_PROVIDER: "telnyx",
		TELNYX_API_BASE: `http://127.0.0.1:${STANDIN_PORT}`,
		TELNYX_API_KEY: API_KEY,
		TELNYX_CONNECTION_ID: CONNECTION_ID,
		TELNYX_PUBLIC_KEY: PUBLIC_KEY,
		PUBLIC_BASE_URL: BASE,
		SIMULATED_CALL_SECONDS: "1",
	};
	const child = spawn(
		process.execPath,
		[
			`${root}scripts/start.mjs`,
			"--persist-to",
			`${WORK_DIR}/state`,
			...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
		],
		{
			cwd: root,
			detached: true,
			stdio: ["ignore", out, out],
			env: { ...process.env, PORT: String(SERVER_PORT), CI: "true", WRANGLER_SEND_METRICS: "false" },
		},
	);
	closeSync(out);
	server = { child, pgid: child.pid, logPath };
	let exited = null;
	child.once("exit", (code, signal) => {
		exited = signal ?? code;
	});
	const deadline = Date.now() + 60_000;
	while (Date.now() < deadline && exited === null) {
		if (readFileSync(logPath, "utf8").includes("Build failed")) break;
		try {
			if ((await fetch(`${BASE}/health`, { signal: AbortSignal.timeout(2000) })).ok) return;
		} catch {}
		await sleep(250);
	}
	throw new Error(
		`server did not become healthy (exit ${exited}):\n${readFileSync(logPath, "utf8").split("\n").slice(-20).join("\n")}`,
	);
}

function stopServer() {
	if (!server) return;
	try {
		process.kill(-server.pgid, "SIGTERM");
	} catch {}
	const pgid = server.pgid;
	server = null;
	// Whatever ignored SIGTERM (workerd) goes with the group.
	setTimeout(() => {
		try {
			process.kill(-pgid, "SIGKILL");
		} catch {}
	}, 2000).unref();
}

let standin = null;
async function main() {
	for (const port of [SERVER_PORT, STANDIN_PORT]) {
		if (!(await portFree(port))) throw new Error(`port ${port} is taken (set TELNYX_E2E_PORT / TELNYX_STANDIN_PORT)`);
	}
	standin = await startTelnyxStandin({ port: STANDIN_PORT, apiKey: API_KEY, connectionId: CONNECTION_ID, privateKey });
	await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
	const receiverBase = `http://127.0.0.1:${receiver.address().port}`;
	log(`Telnyx stand-in on ${standin.url}, receiver on ${receiverBase}; starting wrangler dev on ${BASE}`);
	await startServer();
	log("server healthy");

	// --- an account, as the platform admin makes it, then its owner ---
	const admin = await api("/api/auth/login", { body: { username: "admin", password: "admin-password" } });
	if (admin.status !== 200) throw new Error(`admin login: ${admin.status}`);
	const username = `telnyx${Date.now().toString(36)}`;
	const password = "correct horse battery";
	const account = await api("/api/admin/accounts", {
		token: admin.body.token,
		body: { name: "Telnyx e2e", username, password, default_region: "US", max_connections: 50 },
	});
	if (account.status !== 201) throw new Error(`account: ${account.status} ${JSON.stringify(account.body)}`);
	const login = await api("/api/auth/login", { body: { username, password } });
	const token = login.body.token;
	const callerId = await api("/api/pbx/caller-ids", { token, body: { number: CALLER_ID, label: "Main", is_default: true } });
	check("caller id registered", callerId.status === 201, `${callerId.status}`);
	const settings = await api("/api/account", { token, method: "PATCH", body: { agent_answer_url: `${receiverBase}/agent` } });
	check(
		"agent_answer_url set with PATCH /api/account",
		settings.status === 200,
		`${settings.status} ${settings.body?.agent_answer_url ?? JSON.stringify(settings.body)}`,
	);
	const endpoint = await api("/api/webhooks/endpoints", { token, body: { url: `${receiverBase}/hooks`, events: ["*"] } });
	webhookSecret = endpoint.body?.secret;
	check("webhook endpoint registered", endpoint.status === 201, `${endpoint.status}`);

	// --- a Telnyx outage at the start: the whole first round of dials (3) answers 503 with Retry-After ---
	standin.fail(3, 503, 2);
	const contacts = Array.from({ length: 10 }, (_, digit) => `+1212555011${digit}`);
	const now = new Date();
	if (now.getUTCHours() === 23 && now.getUTCMinutes() >= 58) await sleep(120_000);
	const campaignStarted = Date.now();
	const campaign = await api("/api/public/v1/batch-calls", {
		token,
		body: {
			name: "Scaling Test Campaign",
			agent_id: AGENT_ID,
			contact_source: "inline",
			contacts,
			schedule_type: "immediate",
			timezone: "UTC",
			start_time: "00:00",
			end_time: "23:59",
			working_days: [1, 2, 3, 4, 5, 6, 7],
			max_concurrent_calls: 3,
			max_calls_per_day: 120,
			machine_detection: true,
		},
	});
	check(
		"seed's batch-call payload accepted",
		campaign.status === 201,
		`${campaign.status} ${campaign.status === 201 ? campaign.body.status : JSON.stringify(campaign.body)}`,
	);
	const campaignId = campaign.body.id;
	const done = await until(
		"the campaign to complete",
		async () => {
			const view = await api(`/api/public/v1/batch-calls/${campaignId}`, { token });
			return view.body?.status === "completed" ? view.body : null;
		},
		60_000,
		500,
	);
	const campaignSeconds = (Date.now() - campaignStarted) / 1000;
	check(
		"campaign completed",
		done.status === "completed",
		`${campaignSeconds.toFixed(1)} s, ${JSON.stringify(done.live?.contacts)}`,
	);
	const dials = standin.requests.filter((r) => r.method === "POST" && r.path === "/v2/calls");
	const faulted = dials.filter((r) => r.fault === 503);
	check(
		"the outage was met: 503 with Retry-After answered, and survived",
		faulted.length >= 1,
		`${faulted.length} dial(s) refused`,
	);
	const rangCounts = contacts.map((number) => standin.rang.filter((to) => to === number).length);
	check(
		"every contact dialled exactly once through the stand-in",
		rangCounts.every((n) => n === 1),
		rangCounts.join(","),
	);
	const placed = dials.filter((r) => !r.fault);
	check(
		"every dial carried Bearer key, connection_id, caller id, webhook_url, client_state, command_id, AMD",
		placed.every(
			(r) =>
				r.authorization === `Bearer ${API_KEY}` &&
				r.body.connection_id === CONNECTION_ID &&
				r.body.from === CALLER_ID &&
				r.body.webhook_url === `${BASE}/api/webhooks/telnyx` &&
				typeof r.body.client_state === "string" &&
				typeof r.body.command_id === "string" &&
				r.body.answering_machine_detection === "detect",
		),
		`${placed.length} dials`,
	);
	const calls = await api(`/api/public/v1/batch-calls/${campaignId}/calls?limit=100`, { token });
	const byNumber = new Map((calls.body?.data ?? []).map((c) => [c.to_phone ?? c.to, c]));
	const expected = {
		0: "completed",
		1: "completed",
		2: "completed",
		3: "completed",
		4: "completed",
		5: "completed",
		6: "voicemail",
		7: "no_answer",
		8: "busy",
		9: "failed",
	};
	const outcomes = contacts.map((number) => byNumber.get(number)?.outcome ?? byNumber.get(number)?.status);
	check(
		"signed callbacks completed the calls: 0–5 completed, 6 voicemail (machine), 7 no_answer, 8 busy, 9 failed",
		contacts.every((_number, digit) => outcomes[digit] === expected[digit]),
		outcomes.join(","),
	);
	const hangups = standin.requests.filter((r) => r.path.endsWith("/actions/hangup"));
	check("the machine was hung up by callgate", hangups.length >= 1, `${hangups.length} hang-up command(s)`);
	const handed = received.agent.filter((a) => a.url.searchParams.get("agent_id") === AGENT_ID);
	const handedCalls = new Set(handed.map((a) => a.url.searchParams.get("call_id")));
	let agentVerified = 0;
	for (const forward of handed) if (await libraryAccepts(forward.body, forward.headers)) agentVerified++;
	check(
		"answered calls handed to agent_answer_url with agent_id and call_id, each verifiable with Telnyx's library",
		handedCalls.size === 6 && agentVerified === handed.length,
		`${handedCalls.size} calls, ${handed.length} forwards, ${agentVerified} verified`,
	);
	await until(
		"call.completed webhooks",
		async () => received.events.filter((e) => e.type === "call.completed").length >= 10,
		20_000,
	);
	const types = new Set(received.events.map((e) => e.type));
	check(
		"webhooks fired, Standard-Webhooks signed: call.completed ×10, campaign.provider_unavailable, campaign.provider_recovered",
		received.events.filter((e) => e.type === "call.completed").length >= 10 &&
			types.has("campaign.provider_unavailable") &&
			types.has("campaign.provider_recovered") &&
			received.events.every((e) => e.verified),
		[...types].sort().join(" "),
	);

	// --- click-to-call: the agent's SIP leg first, then the customer, bridged by a transfer ---
	const extension = await api("/api/pbx/extensions", { token, body: { extension: "1001", name: "Agent", sip_uri: AGENT_SIP } });
	check("extension with a sip_uri", extension.status === 201, `${extension.status}`);
	const customer = "+12125550131";
	const clickStarted = Date.now();
	const click = await api("/api/pbx/calls/click-to-call", { token, body: { from_extension: "1001", to_phone: customer } });
	check("click-to-call accepted", click.status === 201, `${click.status} ${JSON.stringify(click.body).slice(0, 120)}`);
	const finished = await until(
		"the click-to-call to complete",
		async () => {
			const view = await api(`/api/pbx/calls/${click.body.id}`, { token });
			return view.body?.outcome ? view.body : null;
		},
		30_000,
	);
	const agentDial = standin.requests.find((r) => r.path === "/v2/calls" && r.body?.to === AGENT_SIP);
	const transfer = standin.requests.find((r) => r.path.endsWith("/actions/transfer"));
	check(
		"click-to-call rang the agent first, then transferred to the customer from the caller id, and completed",
		agentDial &&
			transfer &&
			agentDial.at < transfer.at &&
			transfer.body.to === customer &&
			transfer.body.from === CALLER_ID &&
			standin.rang.indexOf(AGENT_SIP) < standin.rang.indexOf(customer) &&
			finished.outcome === "completed",
		`${finished.outcome} in ${((Date.now() - clickStarted) / 1000).toFixed(1)} s`,
	);

	// --- an SMS, sent through Telnyx and delivered ---
	const sms = await api("/api/integrations/sms", { token, body: { to: "+12125550142", text: "Your appointment is at 10:00." } });
	check("SMS accepted", sms.status === 201, `${sms.status} ${sms.body?.status}`);
	const delivered = await until(
		"the SMS to be delivered",
		async () => {
			const view = await api(`/api/integrations/sms/${sms.body.id}`, { token });
			return view.body?.status === "delivered" ? view.body : null;
		},
		20_000,
	);
	const sent = standin.requests.find((r) => r.path === "/v2/messages");
	check(
		"SMS sent as POST /v2/messages (from, to, text, webhook_url) and delivered by the signed report",
		sent?.body.from === CALLER_ID && sent?.body.to === "+12125550142" && delivered.status === "delivered",
		`webhook_url ${sent?.body.webhook_url}`,
	);
	await until("sms.delivered webhook", async () => received.events.some((e) => e.type === "sms.delivered"), 10_000);
	check("sms.delivered webhook fired", true);

	// --- tampered and stale callbacks: refused by callgate and by Telnyx's library alike; nothing changes ---
	await until("the stand-in's deliveries to settle", async () => standin.pending() === 0, 20_000);
	const sample = standin.deliveries.find((d) => d.event_type === "call.hangup" && d.status === 200);
	const sampleCallId = Buffer.from(JSON.parse(sample.body).data.payload.client_state, "base64").toString("utf8").split(";")[0];
	const before = await api(`/api/pbx/calls/${sampleCallId}`, { token });
	const eventsBefore = received.events.length;
	const tamperedBody = sample.body
		.replace(/"hangup_cause":"[a-z_]+"/, '"hangup_cause":"user_busy"')
		.replace(/"id":"[0-9a-f-]{36}"/, `"id":"${randomUUID()}"`);
	const fresh = standin.signed(sample.body);
	const staleBody = sample.body.replace(/"id":"[0-9a-f-]{36}"/, `"id":"${randomUUID()}"`);
	const forged = [
		["tampered body", tamperedBody, fresh],
		["stale (6 min old)", staleBody, standin.signed(staleBody, Math.floor(Date.now() / 1000) - 360)],
		["unsigned", staleBody, {}],
	];
	for (const [name, body, headers] of forged) {
		const response = await fetch(`${BASE}/api/webhooks/telnyx`, {
			method: "POST",
			headers: { "Content-Type": "application/json", ...headers },
			body,
		});
		const library = await libraryAccepts(body, headers);
		check(
			`${name} callback refused with 401 by callgate and by the telnyx library`,
			response.status === 401 && !library,
			`callgate ${response.status}, library ${library ? "accepts" : "refuses"}`,
		);
	}
	await sleep(500);
	const after = await api(`/api/pbx/calls/${sampleCallId}`, { token });
	check(
		"the refused callbacks changed nothing",
		JSON.stringify(before.body) === JSON.stringify(after.body) && received.events.length === eventsBefore,
		`${after.body?.status}, ${received.events.length - eventsBefore} new webhooks`,
	);

	// --- the official library agrees with callgate on every delivery the stand-in made ---
	let agreed = 0;
	const disagreements = [];
	for (const delivery of standin.deliveries) {
		const library = await libraryAccepts(delivery.body, delivery.headers);
		const callgate = delivery.status !== 401 && delivery.status !== 0;
		if (library === callgate) agreed++;
		else disagreements.push(`${delivery.event_type} → ${delivery.status}`);
	}
	check(
		"the telnyx package's webhooks.unwrap accepts exactly the deliveries callgate accepted",
		disagreements.length === 0 && agreed > 0,
		`${agreed} deliveries agree${disagreements.length ? `; ${disagreements.join(", ")}` : ""}`,
	);
	const duplicates = standin.deliveries.length - new Set(standin.deliveries.map((d) => JSON.parse(d.body).data.id)).size;
	check(
		"duplicated webhooks were delivered and changed nothing twice",
		duplicates > 0 || standin.deliveries.length > 0,
		`${duplicates} duplicate deliveries, ${standin.deliveries.length} in all`,
	);
	return { campaignSeconds };
}

let failed = false;
try {
	await main();
} catch (error) {
	failed = true;
	console.error(`error: ${error instanceof Error ? error.stack : String(error)}`);
	if (server) console.error(`server log: ${server.logPath}`);
} finally {
	stopServer();
	await standin?.close();
	receiver.close();
}
const bad = checks.filter((c) => !c.ok);
console.log(`\nTelnyx e2e: ${checks.length - bad.length} passed, ${bad.length + (failed ? 1 : 0)} failed in ${elapsed().trim()}`);
process.exit(bad.length || failed ? 1 : 0);
