// `npm run chaos [-- --seed N]`: an outside, end-to-end failure run of the real local server.
//
// It starts a flaky dialer (scripts/flaky-dialer.mjs) and `npm start`'s script on a fresh state
// directory with the `http` dialer pointed at it, runs a 30-contact campaign through an 8 s
// dialer outage and a SIGKILL of the whole server mid-campaign, retries keyed writes across
// the crash, then checks from the outside (the dialer's record and the public API) that
// nothing was lost and nothing doubled. It prints each check with its counts and exits 1 if
// any failed. Ports: CHAOS_PORT (server, 8795) and CHAOS_DIALER_PORT (8796).
import { spawn, spawnSync } from "node:child_process";
import { randomInt, randomUUID } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { OpenApiResponseValidator } from "../test/support/openapi-validator.ts";
import { api as callApi } from "./api-client.mjs";
import { seededRandom, startFlakyDialer } from "./flaky-dialer.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const SERVER_PORT = Number(process.env.CHAOS_PORT ?? 8795);
const DIALER_PORT = Number(process.env.CHAOS_DIALER_PORT ?? 8796);
const BASE = `http://127.0.0.1:${SERVER_PORT}`;
const WORK_DIR = `${root}.wrangler/chaos`;
const STATE_DIR = `${WORK_DIR}/state`;
const DIALER_SECRET = "local-dialer-secret"; // wrangler.toml's local DIALER_SECRET

const CONTACTS = 30;
const MAX_CONCURRENT = 3;
const MAX_PER_DAY = CONTACTS; // exactly enough: a refused dial that counted against it would stall the campaign
const OUTAGE_MS = 8_000;
const KILL_AFTER_DONE = 10; // SIGKILL once this many contacts are done…
const KILL_AT_LATEST_MS = 30_000; // …or this long after the outage, if the campaign makes no progress
const DOWNTIME_MS = 2_000;
const TICK_MS = 10_000; // the minute cron, sped up
const FINISH_WITHIN_MS = 180_000; // after the restart
const STALL_MS = 60_000; // no progress at all for this long: stop waiting, check what there is

const seedArg = process.argv.findIndex((arg) => arg === "--seed" || arg.startsWith("--seed="));
const SEED = seedArg < 0 ? randomInt(2 ** 31) : Number(process.argv[seedArg].split("=")[1] ?? process.argv[seedArg + 1]);
if (!Number.isInteger(SEED)) throw new Error("--seed takes an integer");

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s`;
const log = (message) => console.log(`[${elapsed()}] ${message}`);

// Distinct, valid US numbers per kind, so list endpoints can be counted per key and per contact.
const phone = (area, n) => `+1${area}55501${String(n).padStart(2, "0")}`;
const campaignPhones = Array.from({ length: CONTACTS }, (_, i) => phone(212, i));
const campaignPhoneSet = new Set(campaignPhones);

// --- the server: `scripts/start.mjs` (what `npm start` runs), in its own process group ---

let server = null; // { child, pgid, run }
let serverRuns = 0;

function portFree(port) {
	return new Promise((resolve) => {
		const probe = createServer();
		probe.once("error", () => resolve(false));
		probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
	});
}

/** PIDs still alive in a process group (wrangler, workerd, esbuild: everything the start script spawned). */
function groupMembers(pgid) {
	const ps = spawnSync("ps", ["-eo", "pid=,pgid=,comm="], { encoding: "utf8" });
	return ps.stdout
		.split("\n")
		.map((line) => line.trim().split(/\s+/))
		.filter(([pid, group]) => pid && Number(group) === pgid)
		.map(([pid, , comm]) => `${pid} ${comm}`);
}

async function startServer() {
	serverRuns++;
	const logPath = `${WORK_DIR}/server-${serverRuns}.log`;
	const out = openSync(logPath, "w");
	const child = spawn(
		process.execPath,
		[
			`${root}scripts/start.mjs`,
			"--persist-to",
			STATE_DIR,
			"--var",
			"DIALER_PROVIDER:http",
			"--var",
			`DIALER_URL:http://127.0.0.1:${DIALER_PORT}/calls`,
		],
		{
			cwd: root,
			// detached: its own process group, so one kill(-pgid) takes wrangler and workerd down together.
			detached: true,
			stdio: ["ignore", out, out],
			env: { ...process.env, PORT: String(SERVER_PORT), CI: "true", WRANGLER_SEND_METRICS: "false" },
		},
	);
	closeSync(out);
	server = { child, pgid: child.pid, run: serverRuns };
	let exited = null;
	child.once("exit", (code, signal) => {
		exited = signal ?? code;
	});
	const deadline = Date.now() + 90_000;
	while (Date.now() < deadline) {
		if (exited !== null) break;
		// wrangler dev does not exit on a build error (it waits for the next edit): stop waiting.
		if (readFileSync(logPath, "utf8").includes("Build failed")) break;
		try {
			const health = await fetch(`${BASE}/health`, { signal: AbortSignal.timeout(2000) });
			if (health.ok) return logPath;
		} catch {}
		await sleep(250);
	}
	const tail = readFileSync(logPath, "utf8").split("\n").slice(-20).join("\n");
	throw new Error(`server did not become healthy (exit: ${exited}); ${logPath}:\n${tail}`);
}

/** SIGKILL the whole tree, then make sure nothing of it survives and the port is free. */
async function killServer() {
	if (!server) return;
	const { pgid } = server;
	server = null;
	try {
		process.kill(-pgid, "SIGKILL");
	} catch {}
	const deadline = Date.now() + 10_000;
	while (Date.now() < deadline) {
		if (groupMembers(pgid).length === 0 && (await portFree(SERVER_PORT))) return;
		await sleep(100);
	}
	throw new Error(`server tree survived SIGKILL: ${groupMembers(pgid).join(", ") || `port ${SERVER_PORT} still taken`}`);
}

// --- the API ---

/**
 * Every answer the run gets is also checked against the server's own /openapi.json, with the
 * test suite's independent validator: the outside view of "every response obeys the document".
 */
const contract = { validator: null, checked: 0, broken: [] };

async function loadContract() {
	const document = await callApi(BASE, "/openapi.json");
	contract.validator = new OpenApiResponseValidator(document.body);
}

function checkAgainstContract(method, path, response) {
	if (!contract.validator) return;
	const body = response.body === null ? "" : "raw" in Object(response.body) ? response.body.raw : JSON.stringify(response.body);
	const problems = contract.validator.check({
		method,
		path: path.split("?")[0],
		status: response.status,
		headers: response.headers,
		body,
	});
	contract.checked++;
	if (problems.length && contract.broken.length < 5)
		contract.broken.push(`${method} ${path} ${response.status}: ${problems.join("; ")}`);
	else if (problems.length) contract.broken.push("…");
}

/** The local server's API, with a short wait: a request cut off by the SIGKILL must not stall the run. */
async function api(path, options = {}) {
	const response = await callApi(BASE, path, { timeoutMs: 15_000, ...options });
	checkAgainstContract(options.method ?? (options.body === undefined ? "GET" : "POST"), path, response);
	return response;
}

async function must(path, options, expected = [200, 201]) {
	const response = await api(path, options);
	if (!expected.includes(response.status)) {
		throw new Error(
			`${options?.method ?? (options?.body ? "POST" : "GET")} ${path}: ${response.status} ${JSON.stringify(response.body)}`,
		);
	}
	return response.body;
}

/** Every item of a cursor-paginated list. */
async function listAll(path, token) {
	const items = [];
	let cursor = null;
	do {
		const separator = path.includes("?") ? "&" : "?";
		const page = await must(`${path}${separator}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { token });
		items.push(...page.data);
		cursor = page.next_cursor;
	} while (cursor);
	return items;
}

/**
 * A keyed write as a client with retries makes it: the same key and body every time. Every
 * answer is kept, so the checks can see whether all of them named the same resource.
 */
function keyedWrite(kind, path, body) {
	return { kind, path, body, key: randomUUID(), answers: [], settled: null };
}

async function sendKeyed(write, token) {
	try {
		const response = await api(write.path, { token, body: write.body, headers: { "Idempotency-Key": write.key } });
		const answer = {
			status: response.status,
			id: response.body?.id ?? null,
			replayed: response.headers.get("idempotent-replayed") === "true",
			retryAfter: Number(response.headers.get("retry-after") ?? 1),
			message: response.body?.message,
		};
		write.answers.push(answer);
		if (response.status >= 200 && response.status < 300) write.settled = answer;
		return answer;
	} catch (error) {
		const answer = { status: "no answer", error: error.cause?.code ?? error.name };
		write.answers.push(answer);
		return answer;
	}
}

/** Retries until a 2xx (409: after its Retry-After; no answer or 5xx: shortly). */
async function settleKeyed(write, token, deadline) {
	while (!write.settled && Date.now() < deadline) {
		const answer = await sendKeyed(write, token);
		if (write.settled) return;
		if (answer.status !== "no answer" && answer.status !== 409 && answer.status < 500) return; // a refusal: retrying will not help
		await sleep(answer.status === 409 ? Math.max(1, answer.retryAfter) * 1000 : 500);
	}
}

// --- the run ---

let dialer = null;
let ticker = null;
let cleaning = null;

async function cleanup() {
	cleaning ??= (async () => {
		clearInterval(ticker);
		await killServer().catch((error) => console.error(`cleanup: ${error.message}`));
		await dialer?.close();
	})();
	return cleaning;
}

for (const signal of ["SIGINT", "SIGTERM"]) {
	process.on(signal, () => {
		console.error(`\n${signal}: stopping the server and the dialer`);
		cleanup().finally(() => process.exit(130));
	});
}
// Last resort if something exits without cleanup: a synchronous kill of the server's group.
process.on("exit", () => {
	if (server) {
		try {
			process.kill(-server.pgid, "SIGKILL");
		} catch {}
	}
});

/** A zone where it is now between 02:00 and 21:00, so a 00:00–23:59 window stays open all run long. */
function openTimeZone() {
	const zones = [
		"UTC",
		"America/New_York",
		"America/Los_Angeles",
		"Asia/Tokyo",
		"Europe/Berlin",
		"Asia/Kolkata",
		"Pacific/Auckland",
	];
	for (const timeZone of zones) {
		const hour = Number(new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", hourCycle: "h23" }).format(new Date()));
		if (hour >= 2 && hour < 21) return timeZone;
	}
	return "UTC";
}

async function main() {
	console.log(`chaos: seed ${SEED} (rerun with --seed ${SEED}); server :${SERVER_PORT}, dialer :${DIALER_PORT}`);
	for (const port of [SERVER_PORT, DIALER_PORT]) {
		if (!(await portFree(port))) throw new Error(`port ${port} is taken (set CHAOS_PORT / CHAOS_DIALER_PORT)`);
	}
	rmSync(WORK_DIR, { recursive: true, force: true });
	mkdirSync(WORK_DIR, { recursive: true });

	dialer = await startFlakyDialer({ port: DIALER_PORT, secret: DIALER_SECRET, serverBase: BASE, random: seededRandom(SEED) });
	log(`starting the server (fresh state in ${STATE_DIR})`);
	const firstLog = await startServer();
	log(`server up (log: ${firstLog})`);

	// The minute sweep (wakes due campaigns, reconciles, re-queues) on a short period, also while down.
	const ticks = { ok: 0, failed: 0 };
	ticker = setInterval(() => {
		fetch(`${BASE}/__scheduled?cron=*+*+*+*+*`, { signal: AbortSignal.timeout(8000) })
			.then((r) => (r.ok ? ticks.ok++ : ticks.failed++))
			.catch(() => ticks.failed++);
	}, TICK_MS);

	await loadContract();
	const admin = await must("/api/auth/login", { body: { username: "admin", password: "admin-password" } });
	const username = `chaos${Date.now()}`;
	const password = "chaos run password";
	await must("/api/admin/accounts", {
		token: admin.token,
		body: {
			name: "Chaos",
			username,
			password,
			default_region: "US",
			max_connections: 200,
			rate_limits: { autocall: 10_000, pbx: 10_000, "click-to-call": 10_000, integrations: 10_000 },
		},
	});
	const { token } = await must("/api/auth/login", { body: { username, password } });
	log(
		`account ${username} / "${password}" (to look around afterwards: PORT=${SERVER_PORT} npm start -- --persist-to ${STATE_DIR})`,
	);
	await must("/api/pbx/extensions", { token, body: { extension: "1001", name: "Desk" } });

	const timezone = openTimeZone();
	const campaignWrite = keyedWrite("campaign", "/api/autocall/campaigns", {
		name: "Chaos campaign",
		agent_id: randomUUID(),
		contact_source: "inline",
		contacts: campaignPhones,
		schedule_type: "immediate",
		timezone,
		start_time: "00:00",
		end_time: "23:59",
		working_days: [1, 2, 3, 4, 5, 6, 7],
		max_concurrent_calls: MAX_CONCURRENT,
		max_calls_per_day: MAX_PER_DAY,
		retry_failed: false,
	});
	// Group A is sent normally during the outage; group B is fired as the server is killed, so
	// some of its first attempts may commit with the answer lost, or die half-way.
	const ctc = (n) =>
		keyedWrite("click-to-call", "/api/pbx/calls/click-to-call", { from_extension: "1001", to_phone: phone(202, n) });
	const sms = (n) => keyedWrite("sms", "/api/integrations/sms", { to: phone(415, n), text: `chaos sms ${n}` });
	const groupA = [ctc(0), ctc(1), ctc(2), sms(0), sms(1), sms(2)];
	const groupB = [ctc(3), ctc(4), sms(3), sms(4)];
	const keyed = [campaignWrite, ...groupA, ...groupB];

	const outageEnds = dialer.beginOutage(OUTAGE_MS);
	log(`dialer outage: every dial refused with 503 for ${OUTAGE_MS / 1000} s`);
	await settleKeyed(campaignWrite, token, Date.now() + 30_000);
	if (!campaignWrite.settled) throw new Error(`campaign create failed: ${JSON.stringify(campaignWrite.answers)}`);
	const campaignId = campaignWrite.settled.id;
	log(`campaign ${campaignId}: ${CONTACTS} contacts, max ${MAX_CONCURRENT} at once, timezone ${timezone}`);
	await Promise.all(groupA.map((write) => settleKeyed(write, token, Date.now() + 30_000)));
	log(`keyed writes, group A: ${groupA.length} sent (3 click-to-calls during the outage, 3 SMS)`);

	// Watch the campaign from outside: live counters, provider state, progress for stall detection.
	const providerSeen = { duringOutage: new Set(), all: new Set() };
	let lastView = null;
	let lastProgress = Date.now();
	let progressKey = "";
	const observe = async () => {
		try {
			const view = await api(`/api/autocall/campaigns/${campaignId}`, { token, timeoutMs: 5000 });
			if (view.status !== 200) return null;
			lastView = view.body;
			const state = view.body.live?.provider?.state;
			if (state) {
				providerSeen.all.add(state);
				if (Date.now() < outageEnds) providerSeen.duringOutage.add(state);
			}
			return view.body;
		} catch {
			return null;
		}
	};
	const noteProgress = () => {
		const live = lastView?.live;
		const key = JSON.stringify([live?.contacts, live?.in_flight, lastView?.status, dialer.stats.accepted, dialer.undelivered()]);
		if (key !== progressKey) {
			progressKey = key;
			lastProgress = Date.now();
		}
	};
	const describe = () => {
		const live = lastView?.live;
		const provider = live?.provider ? ` · provider ${live.provider.state}` : "";
		return `${lastView?.status ?? "?"} · done ${live?.contacts?.done ?? "?"}/${live?.contacts?.total ?? "?"} · in flight ${live?.in_flight ?? "?"}${provider} · dialer: ${dialer.stats.accepted} accepted, ${dialer.stats.refused} refused, ${dialer.undelivered()} callbacks pending`;
	};

	// Phase 1: outage, recovery, until ~10 contacts are done.
	let lastPrint = 0;
	while (true) {
		await observe();
		noteProgress();
		const done = lastView?.live?.contacts?.done ?? 0;
		if (Date.now() >= outageEnds && done >= KILL_AFTER_DONE) break;
		if (Date.now() >= outageEnds + KILL_AT_LATEST_MS) {
			log(`only ${done} contacts done ${KILL_AT_LATEST_MS / 1000} s after the outage: killing anyway`);
			break;
		}
		if (Date.now() - lastPrint >= 4000) {
			log(describe());
			lastPrint = Date.now();
		}
		await sleep(500);
	}

	// Phase 2: SIGKILL mid-campaign, with group B's first attempts in the air.
	log(`SIGKILL of the server tree mid-campaign (${describe()})`);
	const firstAttemptsB = groupB.map((write) => sendKeyed(write, token));
	await sleep(40);
	await killServer();
	await Promise.all(firstAttemptsB);
	log(
		`server gone (no process left in its group, port ${SERVER_PORT} free); group B first answers: ${groupB.map((w) => w.answers[0]?.status).join(", ")}`,
	);
	const downtimeEnds = Date.now() + DOWNTIME_MS;
	// Clients retry while it is down: each attempt should find nobody home.
	for (const write of keyed) await sendKeyed(write, token);
	await sleep(Math.max(0, downtimeEnds - Date.now()));
	log("restarting on the same state");
	const secondLog = await startServer();
	log(`server up again (log: ${secondLog})`);

	// Phase 3: every keyed write retried with the same key and body until it answers.
	const keyedDeadline = Date.now() + 60_000;
	for (const write of keyed) write.settled = null; // each must answer again after the restart
	await Promise.all(keyed.map((write) => settleKeyed(write, token, keyedDeadline)));
	log(`keyed writes retried after the restart: ${keyed.filter((w) => w.settled).length}/${keyed.length} answered 2xx`);

	// Phase 4: wait until the campaign is completed, no call is open and every callback landed.
	const finishBy = Date.now() + FINISH_WITHIN_MS;
	lastProgress = Date.now();
	let finished = false;
	let stalled = false;
	while (Date.now() < finishBy) {
		await observe();
		noteProgress();
		if (lastView?.status === "completed" && dialer.undelivered() === 0) {
			const calls = await listAll("/api/pbx/calls", token).catch(() => null);
			if (calls?.every((call) => call.ended_at)) {
				finished = true;
				break;
			}
		}
		if (Date.now() - lastProgress > STALL_MS) {
			stalled = true;
			log(`no progress for ${STALL_MS / 1000} s: checking what there is`);
			break;
		}
		if (Date.now() - lastPrint >= 5000) {
			log(describe());
			lastPrint = Date.now();
		}
		await sleep(1000);
	}
	if (!finished && !stalled) log(`not finished within ${FINISH_WITHIN_MS / 1000} s of the restart: checking what there is`);
	clearInterval(ticker);
	log(`final: ${describe()}`);

	// --- the checks, all from the outside ---
	const final = await observe();
	const allCalls = await listAll("/api/pbx/calls", token);
	const campaignCalls = await listAll(`/api/autocall/campaigns/${campaignId}/calls`, token);
	const smsList = await listAll("/api/integrations/sms", token);
	const campaigns = await listAll("/api/autocall/campaigns", token);
	const dialed = [...dialer.calls.values()];

	const results = [];
	const check = (name, ok, detail) => results.push({ mark: ok ? "✓" : "✗", ok, name, detail });
	const skip = (name, detail) => results.push({ mark: "–", ok: null, name, detail });

	check(
		"campaign finished in time",
		finished,
		finished ? "completed, every call closed" : `status ${final?.status ?? "?"}${stalled ? ", stalled" : ", timed out"}`,
	);

	const s = dialer.stats;
	check(
		"dial requests signed correctly",
		s.badSignatures === 0 && s.malformed === 0,
		`${s.requests} requests, ${s.badSignatures} bad signatures, ${s.malformed} malformed`,
	);

	const acceptedByPhone = new Map(campaignPhones.map((p) => [p, []]));
	for (const call of dialed) acceptedByPhone.get(call.to)?.push(call);
	const perPhone = [...acceptedByPhone.values()].map((list) => list.length);
	const once = perPhone.filter((n) => n === 1).length;
	check(
		"each contact dialled exactly once (dialer)",
		once === CONTACTS,
		`${once}/${CONTACTS} once, ${perPhone.filter((n) => n === 0).length} never, ${perPhone.filter((n) => n > 1).length} more than once`,
	);

	// One answered/no-answer/busy final call per contact in the API: the one the dialer placed, with its outcome.
	const REAL = new Set(["completed", "no_answer", "busy"]);
	let apiOnce = 0;
	let mismatched = 0;
	for (const p of campaignPhones) {
		const finals = campaignCalls.filter((call) => call.to_phone === p && call.ended_at && REAL.has(call.status));
		if (finals.length !== 1) continue;
		apiOnce++;
		const [placed] = acceptedByPhone.get(p);
		if (!placed || placed.callId !== finals[0].id || placed.outcome !== finals[0].outcome) mismatched++;
	}
	check(
		"each contact has one final call (API)",
		apiOnce === CONTACTS && mismatched === 0,
		`${apiOnce}/${CONTACTS} contacts, ${mismatched} disagree with the dialer (call id or outcome); ${campaignCalls.length} call rows`,
	);

	const open = allCalls.filter((call) => !call.ended_at);
	const byStatus = (list) =>
		Object.entries(Object.groupBy(list, (c) => c.status))
			.map(([k, v]) => `${v.length} ${k}`)
			.join(", ");
	check(
		"no call left open",
		open.length === 0,
		`${allCalls.length} calls, ${open.length} open${open.length ? ` (${byStatus(open)})` : ""}`,
	);

	// The cap from outside: accepted-but-not-final intervals of campaign calls at the dialer.
	const edges = dialed
		.filter((call) => campaignPhoneSet.has(call.to))
		.flatMap((call) => [
			[call.acceptedAt, 1],
			[call.endsAt, -1],
		])
		.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // an end before a start at the same instant
	let overlap = 0;
	let maxOverlap = 0;
	for (const [, delta] of edges) {
		overlap += delta;
		maxOverlap = Math.max(maxOverlap, overlap);
	}
	check(
		"concurrency cap held (dialer)",
		maxOverlap <= MAX_CONCURRENT,
		`max ${maxOverlap} at once over ${edges.length / 2} placed calls, cap ${MAX_CONCURRENT}`,
	);

	const startedAtDialer = dialed.filter((call) => campaignPhoneSet.has(call.to)).length;
	const callsToday = final?.live?.calls_today;
	check(
		"calls started ≤ max_calls_per_day",
		startedAtDialer <= MAX_PER_DAY && (callsToday ?? 0) <= MAX_PER_DAY,
		`${startedAtDialer} placed at the dialer, calls_today ${callsToday ?? "?"}, cap ${MAX_PER_DAY}`,
	);

	const contacts = final?.live?.contacts;
	check(
		"no contact lost (live counters)",
		contacts?.total === CONTACTS && contacts?.done === CONTACTS,
		contacts
			? `done ${contacts.done}, total ${contacts.total}, pending ${contacts.pending}, in flight ${contacts.in_flight}`
			: "no live counters",
	);

	// Keyed writes: every answer names the same resource, and the list holds exactly one of it.
	const resourcesFor = (write) => {
		if (write.kind === "campaign") return campaigns;
		if (write.kind === "sms") return smsList.filter((m) => m.to === write.body.to);
		return allCalls.filter((call) => call.kind === "click_to_call" && call.to_phone === write.body.to_phone);
	};
	const keyedProblems = [];
	let replays = 0;
	let unanswered = 0;
	for (const write of keyed) {
		const ids = new Set(write.answers.filter((a) => a.status >= 200 && a.status < 300).map((a) => a.id));
		replays += write.answers.filter((a) => a.replayed).length;
		unanswered += write.answers.filter((a) => a.status === "no answer").length;
		const found = resourcesFor(write);
		if (!write.settled)
			keyedProblems.push(`${write.kind} ${write.key.slice(0, 8)}: never 2xx (${write.answers.map((a) => a.status).join(",")})`);
		else if (ids.size !== 1) keyedProblems.push(`${write.kind}: ${ids.size} different ids`);
		else if (found.length !== 1 || found[0].id !== [...ids][0]) keyedProblems.push(`${write.kind}: ${found.length} resources`);
	}
	check(
		"each keyed write created exactly once",
		keyedProblems.length === 0,
		`${keyed.length} keys (1 campaign, 5 click-to-calls, 5 SMS), ${keyed.reduce((n, w) => n + w.answers.length, 0)} attempts, ${replays} replays, ${unanswered} unanswered${keyedProblems.length ? `; ${keyedProblems.join("; ")}` : ""}`,
	);

	// Durable click-to-call: each accepted one was placed once at the dialer (or failed with a reason).
	const ctcWrites = keyed.filter((w) => w.kind === "click-to-call" && w.settled);
	const ctcPlaced = ctcWrites.map((w) => {
		const placed = dialed.filter((call) => call.to === w.body.to_phone).length;
		const row = allCalls.find((call) => call.id === w.settled.id);
		return placed === 1 || (placed === 0 && row?.status === "failed") ? "ok" : placed === 0 ? "never" : "twice";
	});
	check(
		"each click-to-call placed once",
		ctcPlaced.every((r) => r === "ok"),
		`${ctcPlaced.filter((r) => r === "ok").length}/${ctcWrites.length} placed once or failed, ${ctcPlaced.filter((r) => r === "never").length} never placed, ${ctcPlaced.filter((r) => r === "twice").length} twice`,
	);

	const results_ = Object.entries(s.results)
		.map(([k, v]) => `${v} ${k}`)
		.join(", ");
	check(
		"every callback delivered, none unknown",
		dialer.undelivered() === 0 && !s.results["unknown-call"],
		`${s.events} events, ${s.deliveries} deliveries (${s.dropped} first deliveries lost, ${s.duplicated} duplicated, ${s.reordered} calls out of order), ${s.failedAttempts} failed attempts; answers: ${results_ || "none"}; ${dialer.undelivered()} undelivered`,
	);

	if (providerSeen.all.size === 0 && !final?.live?.provider) {
		skip("provider state shown (live.provider)", "the server does not expose live.provider");
	} else {
		check(
			"provider unavailable seen during the outage",
			providerSeen.duringOutage.has("unavailable"),
			`seen during the outage: ${[...providerSeen.duringOutage].join(", ") || "nothing"}`,
		);
		check(
			"provider available at the end",
			final?.live?.provider?.state === "available",
			`state ${final?.live?.provider?.state ?? "?"}`,
		);
	}

	check(
		"every response obeys /openapi.json",
		contract.checked > 0 && contract.broken.length === 0,
		`${contract.checked} responses checked, ${contract.broken.filter((b) => b !== "…").length} broke it${contract.broken.length ? `: ${contract.broken.join(" | ")}` : ""}`,
	);

	console.log(
		`\nrun: ${s.refused} dials refused in the outage, ${s.accepted} accepted, ${s.repeated} repeated call ids; ${ticks.ok} cron ticks (${ticks.failed} failed); 1 SIGKILL + restart\n`,
	);
	const width = Math.max(...results.map((r) => r.name.length));
	for (const r of results) console.log(`  ${r.mark} ${r.name.padEnd(width)}  ${r.detail}`);
	const passed = results.filter((r) => r.ok === true).length;
	const failed = results.filter((r) => r.ok === false).length;
	const skipped = results.filter((r) => r.ok === null).length;
	console.log(
		`\nchaos: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""} (seed ${SEED}; logs and state in ${WORK_DIR})`,
	);
	return failed === 0;
}

let ok = false;
try {
	ok = await main();
} catch (error) {
	console.error(`chaos: run aborted: ${error.stack ?? error}`);
} finally {
	await cleanup();
}
process.exit(ok ? 0 : 1);
