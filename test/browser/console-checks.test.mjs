// The console's checks from the review of issue 14, in headless Chromium (Debian's
// /usr/bin/chromium through playwright-core): the delivery log shows an endpoint's newest delivery
// past 100, the campaigns list of 26 live campaigns gets no 429 and keeps the autocall reserve, a
// malformed %-escape shows a page, /console/api/... is the API's JSON 404, the admin's session is
// revoked by the switch to an owner, and the Limits page shows no other token's headers.
// `npm run console:test` runs them against its own server after its walk-through
// (CONSOLE_REVIEW_BASE); alone, `node --test test/browser/console-checks.test.mjs` starts the
// server as `npm start` runs it on 127.0.0.1:${CONSOLE_REVIEW_PORT:-8816} with its own state.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { api } from "../../scripts/api-client.mjs";
import { startLocalServer } from "../../scripts/local-server.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const PORT = process.env.CONSOLE_REVIEW_PORT ?? "8816";
const BASE = process.env.CONSOLE_REVIEW_BASE ?? `http://127.0.0.1:${PORT}`;
const STATE_DIR = `${root}.wrangler/state-${PORT}-console-checks`;
const TOKEN_KEY = "callgate.console.token";
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let stopServer = () => {};
let browser;

before(async () => {
	if (!process.env.CONSOLE_REVIEW_BASE) stopServer = await startLocalServer({ port: PORT, stateDir: STATE_DIR });
	browser = await chromium.launch({
		executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
		headless: true,
		args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
	});
});

after(async () => {
	await browser?.close();
	stopServer();
});

const login = async (username, password) => {
	const answer = await api(BASE, "/api/auth/login", { body: { username, password } });
	assert.equal(answer.status, 200, JSON.stringify(answer.body));
	return answer.body.token;
};

/** A customer account (region VN, the simulated numbers') and its owner's credentials. */
let adminSession;
async function customer(prefix) {
	// One admin session for every account made here: the admin's logins are limited (5 a minute), and two checks sign in through the form.
	adminSession ??= login("admin", "admin-password");
	const admin = await adminSession;
	const username = `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
	const password = "review-password-1";
	const created = await api(BASE, "/api/admin/accounts", {
		token: admin,
		body: { name: prefix, username, password, default_region: "VN" },
	});
	assert.equal(created.status, 201, JSON.stringify(created.body));
	return { username, password };
}

/** `count` distinct Vietnamese numbers; the simulated dialer answers those ending 0–6. */
const numbers = (count, series) =>
	Array.from({ length: count }, (_, i) => `0987${String(100000 + series * 1000 + i * 10 + (i % 7))}`);

async function createCampaign(token, name, contacts, maxConcurrent) {
	const created = await api(BASE, "/api/autocall/campaigns", {
		token,
		headers: { "Idempotency-Key": crypto.randomUUID() },
		body: {
			name,
			agent_id: crypto.randomUUID(),
			contact_source: "inline",
			contacts,
			schedule_type: "immediate",
			timezone: "UTC",
			start_time: "00:00",
			end_time: "23:59",
			working_days: [1, 2, 3, 4, 5, 6, 7],
			max_concurrent_calls: maxConcurrent,
			max_calls_per_day: 1000,
		},
	});
	assert.equal(created.status, 201, JSON.stringify(created.body));
	return created.body.id;
}

/** A page whose tab already holds `token`, as after signing in; page errors are collected. */
async function consolePage(token) {
	const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
	if (token) await context.addInitScript(([key, value]) => sessionStorage.setItem(key, value), [TOKEN_KEY, token]);
	const page = await context.newPage();
	page.setDefaultTimeout(20_000);
	const pageErrors = [];
	page.on("pageerror", (error) => pageErrors.push(error.message));
	return { context, page, pageErrors };
}

async function waitFor(read, done, timeoutMs, everyMs = 500) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await read();
		if (done(value) || Date.now() > deadline) return value;
		await sleep(everyMs);
	}
}

/** Signs in through the form as the admin, creates a customer from the Accounts page and continues as its owner. */
async function adminSwitchesToOwner(page) {
	await page.goto(`${BASE}/console`);
	await page.getByLabel("Username").fill("admin");
	await page.getByLabel("Password").fill("admin-password");
	await page.getByRole("button", { name: "Sign in" }).click();
	await page.getByRole("heading", { name: "Customer accounts" }).waitFor();
	const adminToken = await page.evaluate((key) => sessionStorage.getItem(key), TOKEN_KEY);
	const username = `switch${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
	await page.getByLabel("Account name").fill("Switched");
	await page.getByLabel("Owner's username").fill(username);
	await page.getByLabel(/Owner's password/).fill("switch-password-1");
	await page.getByLabel(/Default region/).fill("VN");
	await page.getByRole("button", { name: "Create account" }).click();
	await page.getByRole("heading", { name: "Campaigns" }).waitFor();
	assert.ok((await page.locator(".who").innerText()).includes(username));
	return adminToken;
}

// The quick checks first, one at a time (two sign in through the form, which a loaded server makes slow)…
test("a console URL with a malformed %-escape shows a page, not a blank main and an uncaught URIError", async () => {
	const { username, password } = await customer("uri");
	const { context, page, pageErrors } = await consolePage(await login(username, password));
	try {
		await page.goto(`${BASE}/console/campaigns/%E0`);
		await page.locator(".badge.stream-live").waitFor();
		await page.waitForTimeout(1_000);
		const main = (await page.locator("main").innerText()).trim();
		assert.deepEqual(pageErrors, [], `uncaught in the page; main reads ${JSON.stringify(main)}`);
		assert.notEqual(main, "", "the page's main is empty");
	} finally {
		await context.close();
	}
});

test("an API path under /console is the API's JSON 404, not the app's HTML with 200", async () => {
	for (const path of ["/console/api/auth/me", "/console/api/autocall/campaigns", "/console//api/x"]) {
		const response = await fetch(`${BASE}${path}`, { headers: { Accept: "application/json" } });
		const type = response.headers.get("content-type") ?? "";
		await response.body?.cancel();
		assert.deepEqual(
			{ path, status: response.status, json: type.startsWith("application/json") },
			{ path, status: 404, json: true },
		);
	}
});

test("after switching from the admin to a new owner and signing out, the admin's session is revoked", async () => {
	const { context, page } = await consolePage();
	try {
		const adminToken = await adminSwitchesToOwner(page);
		await page.getByRole("button", { name: "Sign out" }).click();
		await page.getByRole("button", { name: "Sign in" }).waitFor();
		await page.waitForTimeout(1_000);
		const me = await api(BASE, "/api/auth/me", { token: adminToken });
		assert.equal(
			me.status,
			401,
			"the platform admin's session token, dropped from the tab when it switched to the owner, still authenticates after Sign out",
		);
	} finally {
		await context.close();
	}
});

test("the Limits page of a new token shows no rate-limit headers another token received in the same tab", async () => {
	const { context, page } = await consolePage();
	try {
		await adminSwitchesToOwner(page);
		// The owner's token has never called /api/admin/*: only the admin's token got admin-group headers.
		await page.getByRole("link", { name: "Limits" }).click();
		const adminRow = page.locator('[data-testid="limits"] tr[data-group="admin"]');
		await adminRow.waitFor();
		const lastHeaders = (await adminRow.locator("td").last().innerText()).trim();
		assert.equal(lastHeaders, "—", `the owner's Limits page shows the admin token's last admin-group headers: ${lastHeaders}`);
	} finally {
		await context.close();
	}
});

// …then the two long ones at once: each has its own account and token, and they wait on the server, not the CPU.
describe("the console under load", { concurrency: true }, () => {
	test("the webhook delivery log shows an endpoint's newest delivery once it has more than 100", async () => {
		const { username, password } = await customer("hooks");
		const token = await login(username, password);
		// The server itself answers the deliveries 404: every attempt fails, as a receiver that is down.
		const endpoint = await api(BASE, "/api/webhooks/endpoints", { token, body: { url: `${BASE}/receiver-down`, events: ["*"] } });
		assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
		const campaignId = await createCampaign(token, "Many events", numbers(60, 1), 20);
		const deliveries = `/api/webhooks/endpoints/${endpoint.body.id}/deliveries?limit=100`;
		const all = async () => {
			const rows = [];
			let cursor = null;
			do {
				const page = await api(BASE, `${deliveries}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { token });
				rows.push(...page.body.data);
				cursor = page.body.next_cursor;
			} while (cursor);
			return rows;
		};
		await waitFor(
			async () => (await api(BASE, `/api/autocall/campaigns/${campaignId}`, { token })).body.status,
			(status) => status === "completed",
			120_000,
			1_000,
		);
		const rows = await waitFor(all, (list) => list.some((row) => row.event_type === "campaign.completed"), 60_000, 1_000);
		assert.ok(rows.length > 100, `only ${rows.length} deliveries: the scenario needs more than one page`);
		const newest = rows.at(-1);

		const { context, page } = await consolePage(await login(username, password));
		try {
			await page.goto(`${BASE}/console/webhooks/${endpoint.body.id}`);
			await page.locator('[data-testid="deliveries"]').waitFor();
			const shown = await page.locator('[data-testid="deliveries"] tbody tr').count();
			const newestShown = await page.locator(`tr[data-delivery="${newest.id}"]`).count();
			assert.equal(
				newestShown,
				1,
				`the log shows ${shown} of ${rows.length} deliveries and not the newest (${newest.event_type}, ${newest.created_at}): ` +
					"an endpoint that starts failing after 100 deliveries never shows its failing attempts, nor can they be resent",
			);
		} finally {
			await context.close();
		}
	});

	test("the campaigns list of 26 live campaigns gets no 429 and keeps the autocall reserve in its first minute", async () => {
		const { username, password } = await customer("busy");
		// Campaigns are created with a token of their own: the console's token starts with its full budget.
		const apiToken = await login(username, password);
		for (let k = 0; k < 26; k++) await createCampaign(apiToken, `Live ${k}`, numbers(40, 10 + k), 1);
		const consoleToken = await login(username, password);
		const { context, page } = await consolePage(consoleToken);
		const statuses = new Map();
		let autocallReads = 0;
		page.on("response", (response) => {
			const path = new URL(response.url()).pathname;
			if (!path.startsWith("/api/")) return;
			statuses.set(response.status(), (statuses.get(response.status()) ?? 0) + 1);
			if (path.startsWith("/api/autocall/")) autocallReads++;
		});
		try {
			await page.goto(`${BASE}/console/campaigns`);
			await page.waitForTimeout(60_000);
			const limits = await api(BASE, "/api/auth/limits", { token: consoleToken });
			const autocall = limits.body.groups.find((group) => group.group === "autocall");
			const refused = statuses.get(429) ?? 0;
			assert.ok(
				refused === 0 && autocall.remaining >= 10,
				`${autocallReads} autocall requests in 60 s, ${refused} answered 429; the console's token has ${autocall.remaining} of ` +
					`${autocall.limit} autocall requests left, under the 10 its background reads promise to leave for pause and cancel`,
			);
		} finally {
			await context.close();
		}
	});
});
