// `npm run docs:check`: GET /docs as a reader sees it. Starts the local server (wrangler dev on
// its own port and state directory), opens /docs in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core), and checks the title, that an operation is visible, that every
// operation of /openapi.json has its section, and that the page asked nothing of another origin.
// A screenshot goes to .wrangler/docs.png. Exits non-zero on any failure.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { buildConsole } from "../console/build.mjs";
import { api } from "./api-client.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const PORT = Number(process.env.DOCS_CHECK_PORT ?? 8797);
const BASE = `http://127.0.0.1:${PORT}`;
const STATE_DIR = `${root}.wrangler/docs-check`;
const SCREENSHOT = `${root}.wrangler/docs.png`;
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const TITLE = "callgate API";
const OPERATION = "POST /api/pbx/calls/click-to-call";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const results = [];
const check = (name, ok, detail = "") => {
	results.push(ok);
	console.log(`${ok ? "✓" : "✗"} ${name}${detail ? ` — ${detail}` : ""}`);
};

async function startServer() {
	// wrangler.toml's [assets] directory is the console's build, not committed: a fresh clone has none.
	await buildConsole();
	rmSync(STATE_DIR, { recursive: true, force: true });
	mkdirSync(STATE_DIR, { recursive: true });
	const child = spawn(
		process.execPath,
		[
			`${root}node_modules/wrangler/bin/wrangler.js`,
			"dev",
			"--ip",
			"127.0.0.1",
			"--port",
			String(PORT),
			"--persist-to",
			STATE_DIR,
			"--log-level",
			"error",
			"--show-interactive-dev-session=false",
		],
		{
			cwd: root,
			// Its own process group: one kill takes wrangler and workerd down together.
			detached: true,
			stdio: ["ignore", "ignore", "inherit"],
			env: { ...process.env, CI: "true", CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
		},
	);
	const stop = () => {
		try {
			process.kill(-child.pid, "SIGTERM");
		} catch {}
	};
	const deadline = Date.now() + 90_000;
	while (Date.now() < deadline) {
		if (child.exitCode !== null) break;
		try {
			if ((await api(BASE, "/health", { timeoutMs: 2000 })).status === 200) return stop;
		} catch {}
		await sleep(250);
	}
	stop();
	throw new Error(`the server on ${BASE} did not become healthy`);
}

async function main() {
	if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (or set CHROMIUM_PATH)`);
	const stopServer = await startServer();
	let browser;
	try {
		const document = await api(BASE, "/openapi.json");
		const operations = Object.entries(document.body.paths).flatMap(([path, item]) =>
			Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
		);
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
		const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
		const elsewhere = [];
		const problems = [];
		page.on("request", (request) => {
			if (new URL(request.url()).origin !== BASE) elsewhere.push(request.url());
		});
		page.on("console", (message) => {
			if (message.type() === "error") problems.push(message.text());
		});
		page.on("pageerror", (error) => problems.push(error.message));
		const response = await page.goto(`${BASE}/docs`, { waitUntil: "load" });
		check(
			"GET /docs answers 200 text/html",
			response?.status() === 200 && /^text\/html/.test(response.headers()["content-type"] ?? ""),
		);
		const title = await page.title();
		check(`the title is "${TITLE}"`, title === TITLE, `"${title}"`);
		const heading = page.locator("article.op h3", { hasText: "/api/pbx/calls/click-to-call" }).filter({ hasText: "POST" });
		await heading.first().evaluate((element) => element.scrollIntoView({ block: "start" }));
		const text = (await heading.first().innerText()).replace(/\s+/g, " ").trim();
		check(`"${OPERATION}" is visible`, (await heading.first().isVisible()) && text === OPERATION, `"${text}"`);
		const shown = new Set(
			(await page.locator("article.op h3").allInnerTexts()).map((heading) => heading.replace(/\s+/g, " ").trim()),
		);
		const missing = operations.filter((operation) => !shown.has(operation));
		check(
			`every operation of /openapi.json has its section (${operations.length})`,
			missing.length === 0,
			missing.slice(0, 5).join(", "),
		);
		check("nothing was loaded from another origin", elsewhere.length === 0, elsewhere.slice(0, 5).join(", "));
		check("no error in the page's console", problems.length === 0, problems.slice(0, 3).join(" | "));
		await page.screenshot({ path: SCREENSHOT });
		console.log(`screenshot: ${SCREENSHOT}`);
	} finally {
		await browser?.close();
		stopServer();
	}
}

try {
	await main();
} catch (error) {
	check("docs check ran", false, error instanceof Error ? error.message : String(error));
}
const failed = results.filter((ok) => !ok).length;
console.log(`docs:check: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
