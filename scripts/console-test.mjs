import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { run } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { api } from "./api-client.mjs";
import { startLocalServer } from "./local-server.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const PORT = Number(process.env.CONSOLE_TEST_PORT ?? 8794);
const BASE = `http://127.0.0.1:${PORT}`;
const STATE_DIR = `${root}.wrangler/console-test`;
const SHOTS = process.env.CONSOLE_SCREENSHOTS === "docs" ? `${root}docs/console` : `${root}.test-results/console`;
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const AXE = readFileSync(`${root}node_modules/axe-core/axe.min.js`, "utf8");
/** Simulated outcomes by last digit: 0–6 answered, 7 no answer, 8 busy, 9 failed. */
const CONTACTS = [
	"0987000010",
	"0987000011",
	"0987000012",
	"0987000013",
	"0987000017",
	"0987000018",
	"0987000019",
	"0987000014",
	"0987000015",
	"0987000016",
];
/** Listed as do-not-call before the campaign starts: skipped, never dialled. */
const LISTED = "0987000020";
/** The campaign's contacts: the listed number among the others. */
const CAMPAIGN_CONTACTS = [...CONTACTS.slice(0, 3), LISTED, ...CONTACTS.slice(3)];
/** The simulated numbers are Vietnamese: their recipient hours are kept in this zone (UTC+7, no DST). */
const RECIPIENT_ZONE = "Asia/Ho_Chi_Minh";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const results = [];
const check = (name, ok, detail = "") => {
	results.push(ok);
	console.log(`${ok ? "✓" : "✗"} ${name}${detail ? ` — ${detail}` : ""}`);
	return ok;
};

/** A webhook receiver that fails every delivery with 500, so the log has failed attempts to show. */
async function startFailingReceiver() {
	let received = 0;
	const server = createServer((request, response) => {
		request.resume();
		request.on("end", () => {
			received++;
			response.writeHead(500).end("receiver down");
		});
	});
	await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
	return { url: `http://127.0.0.1:${server.address().port}/hooks`, received: () => received, close: () => server.close() };
}

/** Minutes after midnight in a zone. */
function localMinute(zone, at = new Date()) {
	const parts = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", hour: "2-digit", minute: "2-digit" })
		.formatToParts(at)
		.map((part) => [part.type, part.value]);
	const values = Object.fromEntries(parts);
	return Number(values.hour) * 60 + Number(values.minute);
}

/**
 * The campaign's window (UTC) and the recipient hours (the numbers' zone) both end at 23:59:
 * the run starts at least 4 minutes before either, so no window closes under it.
 */
async function clearOfMidnight() {
	const near = () => [`UTC`, RECIPIENT_ZONE].some((zone) => localMinute(zone) >= 23 * 60 + 55);
	if (!near()) return;
	console.log("  (waiting for midnight to pass in UTC and in the recipients' zone, so every window is open for the run)");
	while (near()) await sleep(5_000);
}

/** Polls `read` until `done(value)` or the deadline; every value seen is kept. */
async function watch(read, done, timeoutMs, everyMs = 250) {
	const seen = [];
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await read();
		if (seen.length === 0 || JSON.stringify(seen.at(-1)) !== JSON.stringify(value)) seen.push(value);
		if (done(value) || Date.now() > deadline) return { value, seen, ok: done(value) };
		await sleep(everyMs);
	}
}

/** axe-core in the page (evaluated, so the page's own CSP stays on): serious or critical violations. */
async function accessibility(page, name) {
	await page.evaluate(AXE);
	const violations = await page.evaluate(async () => {
		const result = await axe.run(document, { resultTypes: ["violations"] });
		return result.violations
			.filter((v) => v.impact === "serious" || v.impact === "critical")
			.map((v) => `${v.id} (${v.impact}): ${v.nodes.length}× ${v.nodes[0]?.target.join(" ")}`);
	});
	check(
		`${name}: no serious or critical accessibility violation (axe-core)`,
		violations.length === 0,
		violations.slice(0, 4).join("; "),
	);
}

/** A node --test file, each of its tests one line here (failures with their error's first line). */
async function nodeTests(file) {
	const stream = run({ files: [`${root}${file}`] });
	stream.on("test:pass", ({ name, details }) => details.type !== "suite" && check(name, true));
	stream.on("test:fail", ({ name, details }) => {
		if (details.type === "suite") return;
		const cause = details.error?.cause ?? details.error;
		check(name, false, String(cause?.message ?? cause ?? "").split("\n")[0]);
	});
	// Draining the stream is what runs the file; its events were reported above.
	for await (const _ of stream);
}

/** Tabs from where focus is until `matches` the focused element (at most 80 stops); then it is focused. */
async function tabTo(page, description, matches) {
	for (let i = 0; i < 80; i++) {
		await page.keyboard.press("Tab");
		const focused = await page.evaluate(() => ({
			tag: document.activeElement?.tagName ?? "",
			text: (document.activeElement?.textContent ?? "").trim(),
			label: document.activeElement?.getAttribute("aria-label") ?? "",
			name: document.activeElement?.getAttribute("name") ?? "",
		}));
		if (matches(focused)) return true;
	}
	throw new Error(`${description} is not reachable with Tab`);
}

const byText = (text) => (focused) => focused.text === text;

async function main() {
	if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (or set CHROMIUM_PATH)`);
	mkdirSync(SHOTS, { recursive: true });
	const receiver = await startFailingReceiver();
	const stopServer = await startLocalServer({ port: PORT, stateDir: STATE_DIR });
	let browser;
	try {
		browser = await chromium.launch({
			executablePath: CHROMIUM,
			headless: true,
			args: [
				"--headless",
				"--no-sandbox",
				"--disable-gpu",
				"--disable-background-networking",
				"--disable-component-update",
				"--disable-sync",
			],
		});
		const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: "UTC" });
		const page = await context.newPage();
		page.setDefaultTimeout(20_000);
		const elsewhere = [];
		const problems = [];
		page.on("request", (request) => {
			if (!request.url().startsWith(`${BASE}/`) && !request.url().startsWith("data:")) elsewhere.push(request.url());
		});
		page.on("console", (message) => {
			// The browser logs each refused request; the 412 is one this run provokes on purpose.
			if (message.type() === "error" && !/status of 412/.test(message.text())) problems.push(message.text());
		});
		page.on("pageerror", (error) => problems.push(error.message));

		// --- sign in as the platform admin, by keyboard ---
		const landing = await page.goto(`${BASE}/console`);
		check("GET /console answers the app", landing?.status() === 200 && (await page.title()) === "callgate console");
		await accessibility(page, "sign-in");
		await page.screenshot({ path: `${SHOTS}/sign-in.png` });
		await tabTo(page, "the username field", (f) => f.name === "username");
		await page.keyboard.type("admin");
		await page.keyboard.press("Tab");
		await page.keyboard.type("admin-password");
		await page.keyboard.press("Enter");
		await page.getByRole("heading", { name: "Customer accounts" }).waitFor();
		check("the admin signs in with the keyboard and lands on its customer accounts", true);
		const stored = await page.evaluate(() => Object.values(sessionStorage).join(" "));
		check("the token is in sessionStorage, never in the URL", /cgs_/.test(stored) && !/cgs_/.test(page.url()), page.url());
		await accessibility(page, "accounts");

		// --- a customer account from the console; the console continues as its owner ---
		const username = `acme${Date.now().toString(36)}`;
		const password = "acme-password-1";
		await page.getByLabel("Account name").fill("Acme");
		await page.getByLabel("Owner's username").fill(username);
		await page.getByLabel(/Owner's password/).fill(password);
		await page.getByLabel(/Default region/).fill("VN");
		await page.getByRole("button", { name: "Create account" }).click();
		await page.getByRole("heading", { name: "Campaigns" }).waitFor();
		const who = await page.locator(".who").innerText();
		check("creating a customer account signs the console in as its owner", who.includes(username) && who.includes("owner"), who);
		await page.locator(".badge.stream-live").waitFor();
		check("the event stream is live", true);

		// --- the API side, as a CRM would: the owner's token, webhook endpoints, a campaign ---
		const login = await api(BASE, "/api/auth/login", { body: { username, password } });
		const token = login.body.token;
		const failing = await api(BASE, "/api/webhooks/endpoints", { token, body: { url: receiver.url, events: ["*"] } });
		check("webhook endpoints are registered through the API", failing.status === 201, `${failing.status}`);
		const disabled = await api(BASE, "/api/webhooks/endpoints", {
			token,
			body: { url: `${receiver.url}/off`, events: ["call.*"] },
		});
		await api(BASE, `/api/webhooks/endpoints/${disabled.body.id}`, { token, method: "PATCH", body: { enabled: false } });
		await clearOfMidnight();
		// Recipient hours that are open now wherever the numbers are (all day in their zone), and a
		// cap no number reaches here (each is dialled once): shown on the page, holding nothing back.
		const policy = await api(BASE, "/api/account/contact-policy", {
			token,
			method: "PUT",
			body: {
				recipient_hours: { start: "00:00", end: "23:59" },
				unknown_timezone: "skip",
				max_attempts_per_number: { count: 3, days: 1 },
			},
		});
		const listed = await api(BASE, "/api/compliance/dnc", {
			token,
			body: { phones: [LISTED], reason: "asked not to be called" },
		});
		check(
			"a contact policy is set and a number listed do-not-call through the API",
			policy.status === 200 && listed.status === 201 && listed.body.added === 1,
			`${policy.status} ${listed.status} ${JSON.stringify(listed.body)}`,
		);
		const campaignBody = {
			name: "Console run",
			agent_id: crypto.randomUUID(),
			contact_source: "inline",
			contacts: CAMPAIGN_CONTACTS,
			schedule_type: "immediate",
			timezone: "UTC",
			start_time: "00:00",
			end_time: "23:59",
			working_days: [1, 2, 3, 4, 5, 6, 7],
			max_concurrent_calls: 2,
			max_calls_per_day: 500,
		};
		const created = await api(BASE, "/api/autocall/campaigns", {
			token,
			headers: { "Idempotency-Key": crypto.randomUUID() },
			body: campaignBody,
		});
		check("a campaign is created through the API", created.status === 201, `${created.status}`);
		const campaignId = created.body.id;

		// --- the campaigns list shows it with its progress; its page shows it live ---
		const row = page.locator(`tr[data-campaign="${campaignId}"]`);
		await row.waitFor();
		check("the campaigns list shows the new campaign", (await row.innerText()).includes("Console run"));
		await row.getByRole("link", { name: "Console run" }).click();
		await page.getByRole("heading", { name: "Console run" }).waitFor();
		const figures = async () => ({
			done: Number(await page.locator('[data-testid="done"]').innerText()),
			skipped: Number((await page.locator('[data-testid="skipped"]').innerText()).match(/^\d+/)?.[0] ?? "-1"),
			progress: (await page.locator('[data-testid="progress"]').innerText()).trim(),
			inFlight: Number((await page.locator(".chart").getAttribute("data-in-flight")) ?? "-1"),
			counted: Number((await page.locator('[data-testid="in-flight"]').innerText()).split("/")[0]),
			calls: Number((await page.locator(".chart").getAttribute("data-calls")) ?? "-1"),
			points: Number((await page.locator(".chart").getAttribute("data-points")) ?? "-1"),
			status: (await page.locator('[data-testid="status"]').innerText()).trim(),
		});
		const early = await watch(figures, (f) => f.done >= 2, 30_000);
		check(
			"the counters move while it runs",
			early.ok && new Set(early.seen.map((f) => f.done)).size >= 2,
			`done ${early.seen.map((f) => f.done).join(" → ")}`,
		);
		check(
			"the chart follows the calls",
			new Set(early.seen.map((f) => f.calls)).size >= 2 &&
				early.value.points > early.seen[0].points &&
				early.seen.some((f) => f.inFlight > 0),
			`calls ${early.seen.map((f) => f.calls).join(" → ")}, points ${early.seen[0].points} → ${early.value.points}`,
		);
		const hours = await page.locator('[data-testid="recipient-hours"]', { hasText: "00:00–23:59" }).innerText();
		check(
			"the calling window shows the recipient hours and what they mean now",
			hours.includes("00:00–23:59 in each contact's own time zone; unknown zones: skip") &&
				/Now: (At least one pending contact is inside its local hours|No contact is pending)/.test(hours),
			hours.replace(/\s+/g, " "),
		);
		const cap = await page.locator('[data-testid="attempt-cap"]').innerText();
		check("the attempt cap per number is shown", cap === "At most 3 calls to a number in any 24 h, across all campaigns", cap);
		const skipping = await watch(figures, (f) => f.skipped === 1, 30_000);
		const skippedRow = page.locator('[data-testid="skipped-list"] tr[data-reason="do_not_call"]');
		await skippedRow.waitFor();
		const skippedText = await skippedRow.innerText();
		check(
			"the listed number is counted skipped, and listed with why",
			skipping.ok && skippedText.includes("+84987000020") && skippedText.includes("on the do-not-call list"),
			`skipped ${skipping.seen.map((f) => f.skipped).join(" → ")}; ${skippedText.replace(/\s+/g, " ")}`,
		);
		await accessibility(page, "campaign");
		await page.screenshot({ path: `${SHOTS}/campaign-running.png`, fullPage: true });

		// --- pause by keyboard: nothing new starts, calls in flight end ---
		await page.locator("main").focus();
		await tabTo(page, "Pause", byText("Pause"));
		await page.keyboard.press("Enter");
		await page.locator('[data-testid="status"]', { hasText: "paused" }).waitFor();
		check("Pause, reached and pressed with the keyboard, pauses the campaign", true);
		const settled = await watch(figures, (f) => f.inFlight === 0 && f.counted === 0, 15_000);
		// One more refresh of the counters (they are read at most every 2 s), then nothing may move.
		await sleep(2_500);
		const pausedAt = (await figures()).done;
		await sleep(3_500);
		const still = await figures();
		check(
			"paused: calls in flight finish, none start",
			settled.ok && still.done === pausedAt && still.inFlight === 0,
			`done ${pausedAt} → ${still.done}`,
		);
		check("the page says why nothing dials", (await page.locator('[data-testid="idle"]').innerText()).includes("Paused"));

		// --- a pacing edit over a version changed elsewhere: 412, then reload and re-apply ---
		await page.getByRole("button", { name: "Edit pacing…" }).click();
		await page.getByLabel(/Max concurrent calls/).fill("3");
		const elsewhereEdit = await api(BASE, `/api/autocall/campaigns/${campaignId}`, {
			token,
			method: "PATCH",
			body: { name: "Console run (renamed)" },
		});
		await page.getByRole("button", { name: "Save pacing" }).click();
		const alert = page.getByRole("alert").filter({ hasText: "412" });
		await alert.waitFor();
		check(
			"a pacing save over a stale version shows the 412 plainly",
			elsewhereEdit.status === 200 && (await alert.innerText()).includes("Changed since you loaded it"),
		);
		await page.getByRole("button", { name: "Reload and re-apply my changes" }).click();
		await page.getByText("Pacing saved.").waitFor();
		const after = await api(BASE, `/api/autocall/campaigns/${campaignId}`, { token });
		check(
			"reload and re-apply keeps both changes",
			after.body.max_concurrent_calls === 3 && after.body.name === "Console run (renamed)",
			`${after.body.max_concurrent_calls}, ${after.body.name}`,
		);

		// --- resume by keyboard, then watch it complete ---
		await page.locator("main").focus();
		await tabTo(page, "Resume", byText("Resume"));
		await page.keyboard.press("Space");
		await page.locator('[data-testid="status"]', { hasText: "active" }).waitFor();
		check("Resume, by keyboard, sets it dialling again", true);
		const total = CAMPAIGN_CONTACTS.length;
		const end = await watch(
			figures,
			(f) =>
				f.status === "completed" &&
				f.done === CONTACTS.length &&
				f.skipped === 1 &&
				f.progress.includes(`${total} / ${total} (100 %)`),
			90_000,
			500,
		);
		check(
			'the page reaches "completed" at 100 %: every contact done but the listed one, skipped',
			end.ok,
			`${end.value.status}, done ${end.value.done}, skipped ${end.value.skipped}, progress ${end.value.progress}; done seen ${end.seen.map((f) => f.done).join(" → ")}`,
		);
		await watch(figures, (f) => f.calls >= CONTACTS.length && f.inFlight === 0, 10_000);
		const final = await figures();
		check(
			"the chart ends with every call and none in flight",
			final.calls >= CONTACTS.length && final.inFlight === 0,
			JSON.stringify(final),
		);
		await accessibility(page, "campaign, completed");
		await page.screenshot({ path: `${SHOTS}/campaign.png`, fullPage: true });
		await page.getByRole("link", { name: "Campaigns", exact: true }).click();
		await page.locator(`tr[data-campaign="${campaignId}"]`, { hasText: "completed" }).waitFor();
		await page.locator(`tr[data-campaign="${campaignId}"]`, { hasText: `${total} / ${total} (100 %)` }).waitFor();
		check("the list shows it completed, 100 %", true);
		await accessibility(page, "campaigns");
		await page.screenshot({ path: `${SHOTS}/campaigns.png` });

		// --- recipient hours closed now in the numbers' zone: the campaign's window is open, it waits ---
		const closedHours =
			localMinute(RECIPIENT_ZONE) < 12 * 60 ? { start: "20:00", end: "21:00" } : { start: "02:00", end: "03:00" };
		const closing = await api(BASE, "/api/account/contact-policy", {
			token,
			method: "PUT",
			body: { recipient_hours: closedHours, unknown_timezone: "skip", max_attempts_per_number: { count: 3, days: 1 } },
		});
		const waiting = await api(BASE, "/api/autocall/campaigns", {
			token,
			headers: { "Idempotency-Key": crypto.randomUUID() },
			body: { ...campaignBody, name: "Waiting for local hours", contacts: [CONTACTS[0]] },
		});
		await page.locator(`tr[data-campaign="${waiting.body.id}"]`).getByRole("link").click();
		const idle = page.locator('[data-testid="idle"]', { hasText: "No pending contact is inside its local hours" });
		await idle.waitFor();
		// The policy is read beside the campaign: wait for it rather than for a fixed time.
		const hoursEntry = page.locator('[data-testid="recipient-hours"]', { hasText: `${closedHours.start}–${closedHours.end}` });
		await hoursEntry.waitFor();
		const waitingHours = await hoursEntry.innerText();
		const idleText = await idle.innerText();
		check(
			"recipient hours closed now: the page says no pending contact is inside its local hours, and the next opening",
			closing.status === 200 &&
				waiting.status === 201 &&
				(await page.locator('[data-testid="window"]').innerText()) === "Closed" &&
				(await page.locator('[data-testid="campaign-hours"]').innerText()).includes("open now") &&
				waitingHours.includes(`${closedHours.start}–${closedHours.end} in each contact's own time zone`) &&
				waitingHours.includes("Now: No pending contact is inside its local hours") &&
				/next opening at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.test(idleText),
			`${idleText.replace(/\s+/g, " ")} | ${waitingHours.replace(/\s+/g, " ")}`,
		);
		await accessibility(page, "campaign waiting for recipient hours");
		await page.screenshot({ path: `${SHOTS}/campaign-waiting.png`, fullPage: true });
		await api(BASE, `/api/autocall/campaigns/${waiting.body.id}/cancel`, {
			token,
			method: "POST",
			headers: { "Idempotency-Key": crypto.randomUUID() },
		});

		// --- calls: outcomes and durations, filtered ---
		await page.locator("main").focus();
		await tabTo(page, "the Calls link", (f) => f.tag === "A" && f.text === "Calls");
		await page.keyboard.press("Enter");
		await page.getByRole("heading", { name: "Calls", exact: true }).waitFor();
		const table = page.locator('[data-testid="calls"] tbody tr');
		await table.first().waitFor();
		const rows = await table.count();
		const text = await page.locator('[data-testid="calls"]').innerText();
		check(
			"the calls table lists them with outcomes and durations",
			rows >= CONTACTS.length && /no answer/.test(text) && /\d+s/.test(text),
			`${rows} rows`,
		);
		await page.screenshot({ path: `${SHOTS}/calls.png`, fullPage: true });
		await page.getByLabel("Outcome").selectOption("no_answer");
		const filtered = await table.allInnerTexts();
		check(
			"filtering by outcome leaves only those calls",
			filtered.length >= 1 && filtered.every((r) => r.includes("no answer") && r.includes("+84987000017")),
			`${filtered.length} rows`,
		);
		await accessibility(page, "calls");

		// --- limits: every group, live, and the connections in flight (the stream among them) ---
		await page.getByRole("link", { name: "Limits" }).click();
		await page.locator('[data-testid="limits"]').waitFor();
		const autocall = await page.locator('tr[data-group="autocall"]').innerText();
		const connections = await page.locator('[data-testid="connections"]').innerText();
		const inFlight = Number(connections.match(/(\d+)\s+of/)?.[1] ?? "0");
		check(
			"limits show each group and the connections in flight",
			/\d+ \/ 120/.test(autocall) && inFlight >= 2,
			`${autocall.replace(/\s+/g, " ")}; ${connections}`,
		);
		check("the last response headers are shown per group", /resets/.test(autocall), autocall.replace(/\s+/g, " "));
		await accessibility(page, "limits");
		await page.screenshot({ path: `${SHOTS}/limits.png` });

		// --- webhooks: the failing endpoint's attempts, a resend, the disabled endpoint loudly ---
		await page.getByRole("link", { name: "Webhooks" }).click();
		const loud = page.locator('[data-testid="disabled-alert"]');
		await loud.waitFor();
		check(
			"a disabled endpoint is shown loudly",
			(await loud.innerText()).includes("disabled") && (await loud.getAttribute("role")) === "alert",
		);
		await page.getByRole("link", { name: receiver.url, exact: true }).click();
		const attempts = page.locator('[data-testid="deliveries"] li[data-status="500"]');
		await attempts.first().waitFor({ timeout: 30_000 });
		const log = await page.locator('[data-testid="deliveries"]').innerText();
		check(
			"the failing endpoint's attempts show status 500 and latency",
			/500\s+\d+ ms/.test(log) && receiver.received() > 0,
			`${await attempts.count()} failed attempts shown, ${receiver.received()} received`,
		);
		const before = await page.locator('[data-testid="deliveries"] tbody tr').count();
		await page
			.locator('[data-testid="deliveries"] tbody tr')
			.first()
			.getByRole("button", { name: /^Resend/ })
			.click();
		await page.getByText("queued again").waitFor();
		const resent = await watch(
			() => page.locator('[data-testid="deliveries"] tbody tr').count(),
			(n) => n > before,
			15_000,
		);
		check("resend queues the event again (a new delivery in the log)", resent.ok, `${before} → ${resent.value}`);
		await accessibility(page, "webhooks");
		await page.screenshot({ path: `${SHOTS}/webhooks.png` });

		// --- sign out (the session token is revoked), then in again with a pasted token ---
		const consoleToken = await page.evaluate(() => Object.values(sessionStorage)[0]);
		await page.getByRole("button", { name: "Sign out" }).click();
		await page.getByRole("button", { name: "Sign in" }).waitFor();
		// The page forgets the token at once and revokes it in the background: the revoke may land a moment later.
		const revoked = await watch(
			async () => (await api(BASE, "/api/auth/me", { token: consoleToken })).status,
			(status) => status === 401,
			10_000,
		);
		const forgotten = await page.evaluate(() => sessionStorage.length);
		check(
			"sign out forgets the token and revokes the session",
			revoked.ok && forgotten === 0,
			`me: ${revoked.seen.join(" → ")}; sessionStorage entries ${forgotten}`,
		);
		await page.getByText("Use a token instead").click();
		await page.getByLabel(/Bearer token/).fill(token);
		await page.getByRole("button", { name: "Use token" }).click();
		await page.getByRole("heading", { name: "Campaigns" }).waitFor();
		check("a pasted token signs in", (await page.locator(".who").innerText()).includes(username));

		check("nothing was loaded from another origin", elsewhere.length === 0, elsewhere.slice(0, 3).join(", "));
		check("no error in the page's console (CSP included)", problems.length === 0, problems.slice(0, 3).join(" | "));
		console.log(`screenshots: ${SHOTS}/*.png`);

		// --- the review's checks: the newest deliveries past 100, 26 live campaigns within the budget, and more ---
		process.env.CONSOLE_REVIEW_BASE = BASE;
		await nodeTests("test/browser/console-checks.test.mjs");
	} finally {
		await browser?.close();
		stopServer();
		receiver.close();
	}
}

/** Until nothing answers on the port (the server just stopped lets it go within seconds). */
async function portReleased() {
	const deadline = Date.now() + 30_000;
	while (Date.now() < deadline) {
		try {
			await api(BASE, "/health", { timeoutMs: 1000 });
		} catch {
			return;
		}
		await sleep(250);
	}
	throw new Error(`port ${PORT} still answers after the server was stopped`);
}

const started = Date.now();
try {
	await main();
	// A fresh clone of HEAD has no console build: the benchmark's server must make one. On this run's port, now free.
	await portReleased();
	process.env.FRESH_CLONE_PORT = String(PORT);
	await nodeTests("test/e2e/fresh-clone.test.mjs");
} catch (error) {
	check("console test ran", false, error instanceof Error ? error.message : String(error));
}
const failed = results.filter((ok) => !ok).length;
console.log(`console:test: ${results.length - failed} passed, ${failed} failed (${Math.round((Date.now() - started) / 1000)} s)`);
process.exit(failed ? 1 : 0);
