// The SDK (as built, sdk/dist) against the real server: `wrangler dev` on SDK_E2E_PORT (8813) with a
// fresh state directory, and the fault proxy (support/fault-proxy.mjs) on SDK_E2E_PROXY_PORT (8814)
// in front of it where a test needs to see or break the traffic. Each test has its own account
// (its own token budgets), so they run at once: the suite takes about as long as its longest
// test, the 200 calls against a 60-a-minute group (three minutes). The event stream's restart
// test runs last, alone, since it stops the server.
//
//   npm run sdk:test     (builds sdk/dist first)
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Webhook } from "standardwebhooks";
import { startServer } from "../../scripts/sdk/server.mjs";
import { Callgate, isStreamGap, verifyWebhook, WebhookDeduper } from "../dist/index.js";
import { newAccount, secondToken } from "./support/accounts.mjs";
import { startFaultProxy } from "./support/fault-proxy.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const sdkDir = `${root}sdk`;
const PORT = Number(process.env.SDK_E2E_PORT ?? 8813);
const PROXY_PORT = Number(process.env.SDK_E2E_PROXY_PORT ?? 8814);
const STATE_DIR = `${root}.wrangler/state-${PORT}`;
// Simulated calls end after a second: the event and example tests wait for call.completed.
const VARS = { SIMULATED_CALL_SECONDS: "1" };

let server;
let proxy;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (message) => console.log(`# ${message}`);

/**
 * Runs a command and resolves with its exit status and output. Never spawnSync here: the fault
 * proxy lives in this process, and a blocked event loop would stall every other test's traffic.
 */
function run(command, args, options = {}) {
	return new Promise((resolve, reject) => {
		const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
		let stdout = "";
		let stderr = "";
		child.stdout.setEncoding("utf8").on("data", (chunk) => {
			stdout += chunk;
		});
		child.stderr.setEncoding("utf8").on("data", (chunk) => {
			stderr += chunk;
		});
		child.once("error", reject);
		child.once("close", (status, signal) => resolve({ status, signal, stdout, stderr }));
	});
}

async function until(what, check, timeoutMs = 30_000) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await check();
		if (value) return value;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await sleep(100);
	}
}

/** Runs an event iterator in the background, keeping what it yields. */
function collect(iterator) {
	const state = { events: [], error: undefined };
	state.done = (async () => {
		try {
			for await (const event of iterator) state.events.push(event);
		} catch (error) {
			state.error = error;
		}
	})();
	return state;
}

const smsEvents = (events, messageIds) =>
	events.filter((event) => !isStreamGap(event) && messageIds.includes(event.data?.message_id)).map((event) => event.id);

before(async () => {
	server = await startServer({ port: PORT, stateDir: STATE_DIR, vars: VARS });
	proxy = await startFaultProxy({ port: PROXY_PORT, target: server.base });
	log(`callgate on ${server.base}, fault proxy on ${proxy.url}`);
});

after(async () => {
	await proxy?.close();
	server?.stop();
});

describe("the SDK against the real server", { concurrency: true }, () => {
	test("200 concurrent calls on one token against a 60/min group: all resolve, no 429 reaches the caller, ≤ 20 in flight, in the time the window allows", {
		timeout: 300_000,
	}, async () => {
		const account = await newAccount(server.base, "pacing");
		const retries = [];
		const sdk = new Callgate({ baseUrl: proxy.url, token: account.token, onRetry: (retry) => retries.push(retry) });
		const started = Date.now();
		// 100 creates and 100 reads, all in the pbx group (60 a minute), all at once.
		const calls = Array.from({ length: 200 }, (_, i) =>
			i % 2 === 0
				? sdk.post("/api/pbx/extensions", { body: { extension: String(2000 + i / 2), name: `Agent ${i / 2}` } })
				: sdk.get("/api/pbx/extensions", { query: { limit: 1 } }),
		);
		const outcomes = await Promise.allSettled(calls);
		const seconds = (Date.now() - started) / 1000;
		const failed = outcomes.filter((outcome) => outcome.status === "rejected");
		assert.deepEqual(
			failed.map((outcome) => `${outcome.reason?.name}: ${outcome.reason?.message}`),
			[],
			"every call resolves",
		);
		const seen = proxy.exchanges.filter((exchange) => exchange.token === account.token);
		const rateRefusals = seen.filter((exchange) => exchange.status === 429 && /Too many requests/.test(exchange.message ?? ""));
		const connectionRefusals = seen.filter((exchange) => exchange.status === 429 && /concurrent/.test(exchange.message ?? ""));
		const maxInFlight = proxy.maxInFlight(account.token);
		log(
			`200 calls in ${seconds.toFixed(1)} s (the window allows 180 s + latency); the server saw ${seen.length} requests, at most ${maxInFlight} in flight, ` +
				`${rateRefusals.length} rate-limit 429s and ${connectionRefusals.length} connection-cap 429s (the SDK retried ${retries.length} times)`,
		);
		assert.ok(maxInFlight <= 20, `at most 20 in flight (saw ${maxInFlight})`);
		assert.equal(
			seen.filter((exchange) => exchange.status === 429).length,
			rateRefusals.length + connectionRefusals.length,
			"every 429 is read as one of the two refusals (the proxy decodes compressed bodies)",
		);
		assert.equal(rateRefusals.length, 0, "paced: the server never had to refuse a request for the rate limit");
		// 60 now, then 60, 60 and 20 as the next three windows open: no faster is possible, and no slower than a few seconds more.
		assert.ok(seconds >= 179, `the server admitted at most 60 a minute (${seconds} s)`);
		assert.ok(seconds < 190, `within a few seconds of what the window allows (${seconds} s)`);
		const checker = new Callgate({ baseUrl: server.base, token: await secondToken(server.base, account.token) });
		const extensions = [];
		for await (const extension of checker.paginate("/api/pbx/extensions", { query: { limit: 100 } }))
			extensions.push(extension.extension);
		assert.equal(extensions.length, 100, "each create made exactly one extension");
		assert.equal(new Set(extensions).size, 100);
	});

	test("a keyed create whose first response is lost is retried with the same key and creates exactly one resource", async () => {
		const account = await newAccount(server.base, "lost");
		const sdk = new Callgate({ baseUrl: proxy.url, token: account.token });
		const checker = new Callgate({ baseUrl: server.base, token: await secondToken(server.base, account.token) });
		const mine = (method, path) => (exchange) =>
			exchange.token === account.token && exchange.method === method && exchange.path === path;

		const lostCampaign = proxy.dropNextResponse(mine("POST", "/api/telesales/campaigns"));
		const campaign = await sdk.request("post", "/api/telesales/campaigns", { body: { name: "Lost answer" } });
		const dropped = await lostCampaign;
		assert.equal(dropped.status, 201, "the server created it; its answer never reached the client");
		const attempts = proxy.exchanges.filter(mine("POST", "/api/telesales/campaigns"));
		assert.deepEqual(
			attempts.map((exchange) => [exchange.key, exchange.status, exchange.replayed, exchange.dropped]),
			[
				[campaign.idempotencyKey, 201, false, true],
				[campaign.idempotencyKey, 201, true, false],
			],
		);
		assert.equal(campaign.replayed, true);
		assert.equal(campaign.attempts, 2);
		const { data: campaigns } = await checker.get("/api/telesales/campaigns", { query: { limit: 100 } });
		assert.deepEqual(
			campaigns.filter((row) => row.name === "Lost answer").map((row) => row.id),
			[campaign.data.id],
		);

		// The seed's own example: a click-to-call whose answer is lost dials once.
		await sdk.post("/api/pbx/extensions", { body: { extension: "1001", name: "Front desk" } });
		const lostCall = proxy.dropNextResponse(mine("POST", "/api/pbx/calls/click-to-call"));
		const call = await sdk.request("post", "/api/pbx/calls/click-to-call", {
			body: { from_extension: "1001", to_phone: "0987654321" },
		});
		assert.equal((await lostCall).key, call.idempotencyKey);
		const { data: calls } = await checker.get("/api/pbx/calls", { query: { limit: 100 } });
		assert.deepEqual(
			calls.map((row) => row.id),
			[call.data.id],
		);

		// Ten copies of one logical call at once (the caller's key): one runs; a copy that reaches the server while it
		// runs gets a 409 and waits out its Retry-After, a later one its answer replayed. Either way, one campaign.
		const retries = [];
		const burstClient = new Callgate({
			baseUrl: proxy.url,
			token: account.token,
			onRetry: (retry) => retries.push(retry.reason),
		});
		// The client's first request of a route goes alone (it learns the route's group from it): not the burst.
		await burstClient.post("/api/telesales/campaigns", { body: { name: "Before the burst" } });
		const key = crypto.randomUUID();
		const copies = await Promise.all(
			Array.from({ length: 10 }, () =>
				burstClient.post("/api/telesales/campaigns", { body: { name: "Burst" }, idempotencyKey: key }),
			),
		);
		assert.equal(new Set(copies.map((copy) => copy.id)).size, 1);
		const burst = (await checker.get("/api/telesales/campaigns", { query: { limit: 100 } })).data.filter(
			(row) => row.name === "Burst",
		);
		assert.deepEqual(
			burst.map((row) => row.id),
			[copies[0].id],
		);
		const keyed = proxy.exchanges.filter((exchange) => exchange.key === key);
		const ran = keyed.filter((exchange) => exchange.status === 201 && !exchange.replayed);
		const inFlight = keyed.filter((exchange) => exchange.status === 409);
		const replays = keyed.filter((exchange) => exchange.status === 201 && exchange.replayed);
		assert.equal(ran.length, 1, "the server ran the create once");
		assert.equal(replays.length, 9, "every other copy got the first one's answer");
		assert.equal(inFlight.length + ran.length + replays.length, keyed.length, "nothing but 201, its replays and 409 in flight");
		assert.equal(retries.filter((reason) => reason === "in-flight").length, inFlight.length);
		log(
			`ten copies of one keyed create: one campaign; ${keyed.length} requests: 1 ran, ${inFlight.length} answered 409 in flight (waited out their Retry-After), 9 replayed`,
		);
	});

	test("update() re-applies its change after a 412; cached lists are served, then revalidated with a 304", async () => {
		const account = await newAccount(server.base, "locking");
		let clockOffset = 0;
		const sdk = new Callgate({ baseUrl: proxy.url, token: account.token, now: () => Date.now() + clockOffset });
		const colleague = new Callgate({ baseUrl: server.base, token: account.token });
		await sdk.post("/api/pbx/extensions", { body: { extension: "1001", name: "Front desk" } });
		const seenChanges = [];
		const updated = await sdk.update("put", "/api/pbx/extensions/{extension}", {
			path: { extension: "1001" },
			change: async (current, attempt) => {
				seenChanges.push({ attempt, version: current.version, enabled: current.enabled });
				// Someone else writes between our GET and our PUT, once.
				if (attempt === 1)
					await colleague.patch("/api/pbx/extensions/{extension}", { path: { extension: "1001" }, body: { enabled: false } });
				return { ...current, name: `${current.name} (CRM)` };
			},
		});
		assert.deepEqual(seenChanges, [
			{ attempt: 1, version: 1, enabled: true },
			{ attempt: 2, version: 2, enabled: false },
		]);
		assert.equal(updated.name, "Front desk (CRM)");
		assert.equal(updated.enabled, false, "the colleague's change survives: ours was applied to what they wrote");
		const puts = proxy.exchanges.filter((exchange) => exchange.token === account.token && exchange.method === "PUT");
		assert.deepEqual(
			puts.map((exchange) => exchange.status),
			[412, 200],
		);

		const listCalls = (path) =>
			proxy.exchanges.filter(
				(exchange) => exchange.token === account.token && exchange.path === path && exchange.method === "GET",
			);
		const first = await sdk.request("get", "/api/pbx/caller-ids");
		assert.equal(first.source, "network");
		assert.ok(first.etag);
		const users = await sdk.request("get", "/api/pbx/users");
		assert.equal(users.source, "network");
		const second = await sdk.request("get", "/api/pbx/caller-ids");
		assert.equal(second.source, "cache");
		assert.equal(listCalls("/api/pbx/caller-ids").length, 1, "a fresh cached list costs no request");
		// Three times past the cache's minute: each read revalidates, and the unchanged lists come back as 304s.
		for (let round = 0; round < 3; round++) {
			clockOffset += 61_000;
			const [callerIds, sameUsers] = await Promise.all([
				sdk.request("get", "/api/pbx/caller-ids"),
				sdk.request("get", "/api/pbx/users"),
			]);
			assert.deepEqual([callerIds.source, sameUsers.source], ["revalidated", "revalidated"]);
			assert.deepEqual(callerIds.data, first.data);
			assert.deepEqual(sameUsers.data, users.data);
		}
		assert.deepEqual(
			listCalls("/api/pbx/caller-ids").map((exchange) => [exchange.status, exchange.ifNoneMatch]),
			[
				[200, undefined],
				[304, first.etag],
				[304, first.etag],
				[304, first.etag],
			],
		);
		assert.deepEqual(
			listCalls("/api/pbx/users").map((exchange) => [exchange.status, exchange.ifNoneMatch]),
			[
				[200, undefined],
				[304, users.etag],
				[304, users.etag],
				[304, users.etag],
			],
		);
		const notModified = proxy.exchanges.filter((exchange) => exchange.token === account.token && exchange.status === 304);
		log(
			`cached lists: ${notModified.length} revalidations answered 304 Not Modified, 2 full reads, 1 read served from the cache`,
		);
		await sdk.post("/api/pbx/caller-ids", { body: { number: "0987000111", label: "Main" } });
		const fourth = await sdk.request("get", "/api/pbx/caller-ids");
		assert.equal(fourth.source, "network", "a write to the list drops its cached copy");
		assert.equal(fourth.data.data.length, first.data.data.length + 1);
	});

	test("the event iterator survives a closed stream and misses no event (Last-Event-ID replay)", async () => {
		const account = await newAccount(server.base, "events");
		const direct = new Callgate({ baseUrl: server.base, token: account.token });
		const sdk = new Callgate({ baseUrl: proxy.url, token: account.token });
		const stop = new AbortController();
		let observerOpen = false;
		const observer = collect(direct.events({ signal: stop.signal, onOpen: () => (observerOpen = true) }));
		const reconnects = [];
		let opens = 0;
		const seen = collect(
			sdk.events({
				signal: stop.signal,
				idleTimeoutMs: 60_000,
				onOpen: () => opens++,
				onReconnect: (info) => reconnects.push(info),
			}),
		);
		await until("both streams open", () => observerOpen && opens === 1);
		const sms = (text) => direct.post("/api/integrations/sms", { body: { to: "0987000001", text } });
		const first = await sms("one");
		await until("the first message's events", () => smsEvents(seen.events, [first.id]).length === 2);
		const lastBefore = seen.events.at(-1).id;

		// The stream ends under the client, and its reconnection is kept away while more happens.
		proxy.holdStreams();
		assert.equal(proxy.closeStreams(account.token), 1);
		const missed = [await sms("two"), await sms("three")];
		await until(
			"the missed messages' events to be published",
			() =>
				smsEvents(
					observer.events,
					missed.map((m) => m.id),
				).length === 4,
		);
		await until("the client to reconnect", () => proxy.heldStreams() === 1);
		proxy.releaseStreams();
		const all = [first.id, ...missed.map((m) => m.id)];
		await until("the missed events", () => smsEvents(seen.events, all).length === 6);
		stop.abort();
		await Promise.all([seen.done, observer.done]);
		assert.equal(seen.error, undefined);
		assert.deepEqual(
			smsEvents(seen.events, all),
			smsEvents(observer.events, all),
			"the same events in the same order as a stream that never broke",
		);
		assert.equal(new Set(seen.events.map((event) => event.id)).size, seen.events.length, "none twice");
		assert.ok(!seen.events.some(isStreamGap));
		const resumed = proxy.exchanges.filter(
			(exchange) => exchange.token === account.token && exchange.path === "/api/pbx/events" && exchange.lastEventId,
		);
		assert.deepEqual(
			resumed.map((exchange) => exchange.lastEventId),
			[lastBefore],
		);
		assert.equal(reconnects.length, 1);
	});

	test("webhook verification against deliveries from the server, cross-checked with standardwebhooks; a resend is deduped", async () => {
		const account = await newAccount(server.base, "webhooks");
		const sdk = new Callgate({ baseUrl: server.base, token: account.token });
		const deliveries = [];
		const deduper = new WebhookDeduper();
		let handled = 0;
		let secret;
		const receiver = createServer(async (request, response) => {
			const chunks = [];
			for await (const chunk of request) chunks.push(chunk);
			const body = Buffer.concat(chunks).toString("utf8");
			const delivery = { body, headers: request.headers };
			try {
				delivery.event = await verifyWebhook(secret, body, request.headers);
				delivery.outcome = await deduper.once(request.headers["webhook-id"], () => ++handled);
			} catch (error) {
				delivery.error = error;
			}
			deliveries.push(delivery);
			// A delivery of an id still being handled is not acknowledged: the server retries it.
			response.writeHead(delivery.error ? 400 : delivery.outcome.acknowledge ? 204 : 409).end();
		});
		await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
		try {
			const endpoint = await sdk.post("/api/webhooks/endpoints", {
				body: { url: `http://127.0.0.1:${receiver.address().port}/hooks`, events: ["sms.*"] },
			});
			secret = endpoint.secret;
			const message = await sdk.post("/api/integrations/sms", { body: { to: "0987000002", text: "hello" } });
			await until("both deliveries", () => deliveries.length >= 2, 60_000);
			for (const delivery of deliveries) {
				assert.equal(delivery.error, undefined, String(delivery.error));
				assert.equal(delivery.event.data.message_id, message.id);
				assert.deepEqual(
					new Webhook(secret).verify(delivery.body, delivery.headers),
					delivery.event,
					"the reference library agrees",
				);
				await assert.rejects(
					verifyWebhook(
						secret,
						delivery.body.replace("hello", "HELLO").replace(message.id, crypto.randomUUID()),
						delivery.headers,
					),
				);
				await assert.rejects(
					verifyWebhook(`whsec_${btoa("some other endpoint's secret, 32b")}`, delivery.body, delivery.headers),
				);
			}
			assert.deepEqual(deliveries.map((delivery) => delivery.event.type).sort(), ["sms.delivered", "sms.sent"]);
			assert.equal(handled, 2);

			// A resend carries the same webhook-id: verified, then recognised as a duplicate.
			const sent = deliveries.find((delivery) => delivery.event.type === "sms.sent");
			await sdk.post("/api/webhooks/endpoints/{id}/events/{eventId}/resend", {
				path: { id: endpoint.id, eventId: sent.event.id },
			});
			await until("the resend", () => deliveries.length >= 3, 60_000);
			const resent = deliveries[2];
			assert.equal(resent.error, undefined);
			assert.equal(resent.headers["webhook-id"], sent.headers["webhook-id"]);
			assert.deepEqual(resent.outcome, { status: "duplicate", acknowledge: true });
			assert.equal(handled, 2);
		} finally {
			receiver.close();
		}
	});

	test("bulk helpers chunk 25,000 leads into 10,000-row imports and 1,000-item PATCH/DELETE, results merged in input order", {
		timeout: 240_000,
	}, async () => {
		const account = await newAccount(server.base, "bulk");
		const sdk = new Callgate({ baseUrl: proxy.url, token: account.token });
		const campaign = await sdk.post("/api/telesales/campaigns", { body: { name: "Bulk" } });
		const leads = Array.from({ length: 25_000 }, (_, i) => ({ phone: `0987${String(i).padStart(6, "0")}`, name: `Lead ${i}` }));
		leads[15_000] = { phone: leads[3].phone, name: "again" };
		leads[20_001] = { phone: "12" };
		const report = await sdk.importLeads(campaign.id, leads);
		const imports = proxy.exchanges.filter(
			(exchange) => exchange.token === account.token && exchange.path.endsWith("/leads/bulk-import"),
		);
		assert.deepEqual(
			imports.map((exchange) => exchange.status),
			[201, 201, 201],
		);
		assert.equal(new Set(imports.map((exchange) => exchange.key)).size, 3, "one Idempotency-Key per import request");
		assert.deepEqual([report.total, report.created, report.duplicates, report.invalid], [25_000, 24_998, 1, 1]);
		assert.deepEqual(
			report.rows.map((row) => row.row),
			leads.map((_, i) => i),
		);
		assert.equal(report.rows[15_000].result, "duplicate");
		assert.equal(report.rows[15_000].id, report.rows[3].id);
		assert.equal(report.rows[20_001].result, "invalid");

		const created = report.rows.filter((row) => row.result === "created").map((row) => row.id);
		const patch = [
			...created.slice(0, 2_500).map((id) => ({ id, status: "contacted" })),
			{ id: crypto.randomUUID(), status: "won" },
		];
		const updated = await sdk.updateLeads(patch);
		assert.deepEqual(
			updated.results.map((result) => result.id),
			patch.map((item) => item.id),
		);
		assert.deepEqual(
			updated.results.map((result) => result.result),
			[...Array(2_500).fill("updated"), "not_found"],
		);
		const deleted = await sdk.deleteLeads(created.slice(0, 1_500));
		assert.equal(deleted.results.filter((result) => result.result === "deleted").length, 1_500);
		const bulkCalls = proxy.exchanges.filter(
			(exchange) => exchange.token === account.token && exchange.path === "/api/telesales/leads/bulk",
		);
		assert.deepEqual(
			bulkCalls.map((exchange) => exchange.method),
			["PATCH", "PATCH", "PATCH", "DELETE", "DELETE"],
		);

		const csv = 'phone,name,notes\n0912000001,Ann,"two\nlines"\n\n0912000002,Bo,x\nnot-a-phone,Cy,y\n';
		const csvReport = await sdk.importLeadsCsv(campaign.id, csv);
		assert.deepEqual(
			csvReport.rows.map((row) => [row.row, row.line, row.result]),
			[
				[0, 2, "created"],
				[1, 5, "created"],
				[2, 6, "invalid"],
			],
		);

		const folder = await sdk.post("/api/autocall/contact-folders", { body: { name: "CRM contacts" } });
		const contacts = Array.from({ length: 10_001 }, (_, i) => `0988${String(i).padStart(6, "0")}`);
		const contactReport = await sdk.importContacts(folder.id, contacts);
		assert.deepEqual([contactReport.total, contactReport.created], [10_001, 10_001]);
	});

	test("the generated types match what /openapi.json generates now, and the check fails on drift", {
		timeout: 180_000,
	}, async () => {
		const check = (...args) => run(process.execPath, [`${root}scripts/sdk/types.mjs`, "--check", ...args], { cwd: root });
		const documentUrl = `${server.base}/openapi.json`;
		const work = mkdtempSync(`${tmpdir()}/callgate-sdk-types-`);
		try {
			// A hand-edited copy of the committed files: someone "fixed" a type instead of the schema.
			const edited = `${work}/generated`;
			cpSync(`${sdkDir}/src/generated`, edited, { recursive: true });
			const types = readFileSync(`${edited}/openapi.ts`, "utf8");
			assert.ok(types.includes("\n            to_phone: string;\n"));
			writeFileSync(
				`${edited}/openapi.ts`,
				types.replace("\n            to_phone: string;\n", "\n            to_phone?: string;\n"),
			);
			// A schema changed on the server without regenerating: the document gains a field.
			const document = await (await fetch(documentUrl)).json();
			document.components.schemas.User.properties.nickname = { type: "string" };
			document.components.schemas.User.required.push("nickname");
			writeFileSync(`${work}/changed-openapi.json`, JSON.stringify(document));

			const [current, handEdited, schemaChanged] = await Promise.all([
				check("--from", documentUrl),
				check("--from", documentUrl, "--dir", edited),
				check("--from", `${work}/changed-openapi.json`),
			]);
			assert.equal(current.status, 0, `run \`npm run sdk:types\` and commit the result:\n${current.stderr}`);
			assert.match(current.stdout, /match \/openapi\.json/);
			assert.equal(handEdited.status, 1, handEdited.stdout);
			assert.match(handEdited.stderr, /generated\/openapi\.ts differ from what \/openapi\.json generates/);
			assert.equal(schemaChanged.status, 1, schemaChanged.stdout);
			assert.match(schemaChanged.stderr, /^sdk\/src\/generated\/openapi\.ts differ/m);
			log(
				`types check: ${current.stdout.trim()}; on a hand-edited copy: exit ${handEdited.status}; on a changed schema: exit ${schemaChanged.status}`,
			);
		} finally {
			rmSync(work, { recursive: true, force: true });
		}
	});

	test("npm pack, an offline npm install in a new project, its types, and the README's example against the server", {
		timeout: 240_000,
	}, async () => {
		const work = mkdtempSync(`${tmpdir()}/callgate-sdk-`);
		try {
			const npm = async (args, cwd) => {
				const result = await run("npm", args, { cwd, env: { ...process.env, npm_config_update_notifier: "false" } });
				assert.equal(result.status, 0, `npm ${args.join(" ")}: ${result.stderr}`);
				return result.stdout;
			};
			const [packed] = JSON.parse((await npm(["pack", "--json", "--pack-destination", work], sdkDir)).replace(/^[^[]*/, ""));
			assert.ok(packed.files.some((file) => file.path === "dist/index.d.ts"));
			assert.ok(packed.files.some((file) => file.path === "README.md"));
			const app = `${work}/crm-app`;
			mkdirSync(app);
			writeFileSync(`${app}/package.json`, JSON.stringify({ name: "crm-app", private: true, type: "module" }));
			await npm(["install", "--offline", "--no-audit", "--no-fund", `${work}/${packed.filename}`], app);
			// Imported by name from the project, as a CRM's code would, on this Node (22).
			const imported = await run(
				process.execPath,
				[
					"--input-type=module",
					"-e",
					'import * as sdk from "@callgate/sdk"; console.log(process.version, Object.keys(sdk).sort().join(" "));',
				],
				{ cwd: app },
			);
			assert.equal(imported.status, 0, imported.stderr);
			assert.match(imported.stdout, /^v22\.\S+ .*\bCallgate\b.*\bverifyWebhook\b/);
			log(
				`installed from ${packed.filename} (${packed.files.length} files, offline) and imported on ${imported.stdout.split(" ")[0]}`,
			);

			// Its types, as a TypeScript consumer sees them.
			writeFileSync(
				`${app}/check.ts`,
				[
					'import { Callgate, type Schemas } from "@callgate/sdk";',
					'const client = new Callgate({ baseUrl: "http://127.0.0.1:8787", token: "t" });',
					'export const users: Promise<{ data: Schemas["User"][] }> = client.get("/api/pbx/users");',
					"// @ts-expect-error: the body must have to_phone",
					'client.post("/api/pbx/calls/click-to-call", { body: { from_extension: "1001" } });',
				].join("\n"),
			);
			writeFileSync(
				`${app}/tsconfig.json`,
				JSON.stringify({
					compilerOptions: {
						strict: true,
						module: "nodenext",
						moduleResolution: "nodenext",
						target: "es2022",
						lib: ["es2022", "dom"],
						noEmit: true,
						types: [],
					},
					files: ["check.ts"],
				}),
			);
			const tsc = await run(process.execPath, [`${root}node_modules/typescript/bin/tsc`, "-p", app]);
			assert.equal(tsc.status, 0, tsc.stdout);

			const account = await newAccount(server.base, "example");
			copyFileSync(`${sdkDir}/examples/crm-sync.mjs`, `${app}/crm-sync.mjs`);
			const example = await run(process.execPath, ["crm-sync.mjs"], {
				cwd: app,
				timeout: 180_000,
				env: {
					...process.env,
					CALLGATE_BASE_URL: server.base,
					CALLGATE_USERNAME: account.username,
					CALLGATE_PASSWORD: account.password,
				},
			});
			log(`example output:\n${example.stdout.trim().replace(/^/gm, "#   ")}`);
			assert.equal(example.status, 0, example.stderr);
			assert.match(example.stdout, /imported 12000 leads: 12000 created, 0 duplicates, 0 invalid/);
			assert.match(example.stdout, /call \w+ after \d+ s/);
			assert.match(example.stdout, /sync done/);
		} finally {
			rmSync(work, { recursive: true, force: true });
		}
	});
});

describe("a server restart", () => {
	test("the event iterator survives the server going away and resumes from the server's durable replay", {
		timeout: 180_000,
	}, async () => {
		const account = await newAccount(server.base, "restart");
		const sdk = new Callgate({ baseUrl: proxy.url, token: account.token });
		const stop = new AbortController();
		let opens = 0;
		const reconnects = [];
		const seen = collect(
			sdk.events({
				signal: stop.signal,
				idleTimeoutMs: 120_000,
				onOpen: () => opens++,
				onReconnect: (info) => reconnects.push(info),
			}),
		);
		await until("the stream to open", () => opens === 1);
		const direct = () => new Callgate({ baseUrl: server.base, token: account.token });
		const before = await direct().post("/api/integrations/sms", { body: { to: "0987000003", text: "before" } });
		await until("the events before the restart", () => smsEvents(seen.events, [before.id]).length === 2);

		// The server goes away under the open stream; its reconnections wait at the proxy until it is back.
		proxy.holdStreams();
		server.stop();
		server = await startServer({ port: PORT, stateDir: STATE_DIR, vars: VARS, fresh: false });
		await until("the client to try again", () => proxy.heldStreams() >= 1, 60_000);
		let watching = false;
		const watcher = collect(direct().events({ signal: stop.signal, onOpen: () => (watching = true) }));
		await until("a second stream to open on the new server", () => watching);
		const afterRestart = await direct().post("/api/integrations/sms", { body: { to: "0987000003", text: "after" } });
		await until("the new events to be published", () => smsEvents(watcher.events, [afterRestart.id]).length === 2);
		proxy.releaseStreams();
		await until("the events published while it was away", () => smsEvents(seen.events, [afterRestart.id]).length === 2, 60_000);
		stop.abort();
		await Promise.all([seen.done, watcher.done]);
		assert.equal(seen.error, undefined);
		// Its Last-Event-ID was from before the restart: still known, so no gap.
		assert.ok(!seen.events.some(isStreamGap), "the replay buffer survived the restart");
		assert.equal(new Set(seen.events.map((event) => event.id)).size, seen.events.length);
		const beforeIds = smsEvents(seen.events, [before.id]);
		assert.deepEqual(
			smsEvents(seen.events, [before.id, afterRestart.id]),
			[...beforeIds, ...smsEvents(watcher.events, [afterRestart.id])],
			"every event from before and after the restart, in order, once",
		);
		assert.ok(reconnects.length >= 1);
		log(`the stream reconnected ${reconnects.length} time(s) across the restart`);
	});
});
