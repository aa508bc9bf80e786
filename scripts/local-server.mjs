// The local server as `npm start` runs it (console build, migrations, wrangler dev), on its own
// port and a fresh state directory, for the browser checks (`docs:check`, `console:test`).
import { spawn } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { api } from "./api-client.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the server and waits until `/health` answers 200; resolves to a function that stops it. */
export async function startLocalServer({ port, stateDir, healthyWithinMs = 90_000 }) {
	const base = `http://127.0.0.1:${port}`;
	rmSync(stateDir, { recursive: true, force: true });
	mkdirSync(stateDir, { recursive: true });
	const child = spawn(process.execPath, [`${root}scripts/start.mjs`, "--persist-to", stateDir, "--log-level", "error"], {
		cwd: root,
		// Its own process group: one kill takes wrangler and workerd down together.
		detached: true,
		stdio: ["ignore", "ignore", "inherit"],
		env: { ...process.env, PORT: String(port), CI: "true", WRANGLER_SEND_METRICS: "false" },
	});
	const stop = () => {
		try {
			process.kill(-child.pid, "SIGTERM");
		} catch {}
	};
	const deadline = Date.now() + healthyWithinMs;
	while (Date.now() < deadline && child.exitCode === null) {
		try {
			if ((await api(base, "/health", { timeoutMs: 2000 })).status === 200) return stop;
		} catch {}
		await sleep(250);
	}
	stop();
	throw new Error(`the server on ${base} did not become healthy${child.exitCode === null ? "" : ` (exit ${child.exitCode})`}`);
}
