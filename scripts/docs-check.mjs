import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { api } from "./api-client.mjs";
import { startLocalServer } from "./local-server.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const PORT = Number(process.env.DOCS_CHECK_PORT ?? 8797);
const BASE = `http://127.0.0.1:${PORT}`;
const STATE_DIR = `${root}.wrangler/docs-check`;
const SCREENSHOT = `${root}.wrangler/docs.png`;
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const TITLE = "callgate API";
const OPERATION = "POST /api/pbx/calls/click-to-call";

const results = [];
const check = (name, ok, detail = "") => {
	results.push(ok);
	console.log(`${ok ? "✓" : "✗"} ${name}${detail ? ` — ${detail}` : ""}`);
};

async function main() {
	if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (or set CHROMIUM_PATH)`);
	const stopServer = await startLocalServer({ port: PORT, stateDir: STATE_DIR });
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
