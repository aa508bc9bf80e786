// A callgate server for the SDK's scripts: `wrangler dev` through scripts/start.mjs (which applies the
// D1 migrations first), on its own port and a fresh state directory, in its own process group so
// one signal stops wrangler and workerd together.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts the server and waits for /health. `vars` become `--var NAME:value`; `fresh: false`
 * keeps the state directory (a restart). Resolves to `{ base, stop }`; throws with the log's
 * tail when it does not come up within a minute and a half.
 */
export async function startServer({ port, stateDir, vars = {}, fresh = true }) {
	if (fresh) rmSync(stateDir, { recursive: true, force: true });
	mkdirSync(stateDir, { recursive: true });
	const logPath = `${stateDir}/server.log`;
	const out = openSync(logPath, fresh ? "w" : "a");
	const child = spawn(
		process.execPath,
		[
			`${root}scripts/start.mjs`,
			"--persist-to",
			`${stateDir}/state`,
			"--log-level",
			"warn",
			...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
		],
		{
			cwd: root,
			detached: true,
			stdio: ["ignore", out, out],
			env: { ...process.env, PORT: String(port), CI: "true", WRANGLER_SEND_METRICS: "false" },
		},
	);
	closeSync(out);
	let exited = null;
	child.once("exit", (code, signal) => {
		exited = signal ?? code;
	});
	const base = `http://127.0.0.1:${port}`;
	const stop = () => stopGroup(child.pid);
	const deadline = Date.now() + 90_000;
	while (Date.now() < deadline && exited === null) {
		try {
			if ((await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) })).ok) return { base, stop, logPath };
		} catch {}
		await sleep(250);
	}
	stop();
	throw new Error(
		`callgate on ${base} did not become healthy (exit ${exited}):\n${readFileSync(logPath, "utf8").split("\n").slice(-25).join("\n")}`,
	);
}

function stopGroup(pgid) {
	try {
		process.kill(-pgid, "SIGTERM");
	} catch {
		return;
	}
	// wrangler may leave workerd behind on SIGTERM: make sure the group is gone.
	for (let i = 0; i < 20; i++) {
		if (!spawnSync("ps", ["-o", "pid=", "-g", String(pgid)], { encoding: "utf8" }).stdout.trim()) return;
		spawnSync("sleep", ["0.25"]);
	}
	try {
		process.kill(-pgid, "SIGKILL");
	} catch {}
}
