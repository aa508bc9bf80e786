// Starts `wrangler dev` on its own port and state directory, for the benchmark only.
import { spawn, spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { buildConsole } from "../console/build.mjs";
import { api } from "../scripts/api-client.mjs";

export { api };

const root = fileURLToPath(new URL("..", import.meta.url));
const wrangler = `${root}node_modules/wrangler/bin/wrangler.js`;
const env = { ...process.env, CI: "true", CLOUDFLARE_CF_FETCH_ENABLED: "false" };

// BENCH_PORT lets two benchmarks run side by side (each with its own state directory).
const defaultPort = Number(process.env.BENCH_PORT ?? 8790);

export async function startServer({ port = defaultPort, persistTo = `${root}.wrangler/bench-state-${port}`, vars = {} } = {}) {
	rmSync(persistTo, { recursive: true, force: true });
	// wrangler.toml's [assets] directory is the console's build, not committed: a fresh clone has none.
	await buildConsole();
	const migrate = spawnSync(
		process.execPath,
		[wrangler, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo],
		{
			cwd: root,
			env,
			encoding: "utf8",
		},
	);
	if (migrate.status !== 0) throw new Error(`migrations failed:\n${migrate.stdout}\n${migrate.stderr}`);
	const child = spawn(
		process.execPath,
		[
			wrangler,
			"dev",
			"--ip",
			"127.0.0.1",
			"--port",
			String(port),
			"--persist-to",
			persistTo,
			"--log-level",
			"error",
			"--show-interactive-dev-session=false",
			// The bench-only routes (/__bench/*: the guard's floors and its RPC counts); no wrangler.toml environment sets it.
			...Object.entries({ BENCH_ROUTES: "1", ...vars }).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
		],
		{ cwd: root, env, stdio: ["ignore", "ignore", "inherit"] },
	);
	const base = `http://127.0.0.1:${port}`;
	const deadline = Date.now() + 60_000;
	while (Date.now() < deadline) {
		try {
			if ((await fetch(`${base}/health`)).ok) return { base, stop: () => child.kill("SIGTERM") };
		} catch {}
		await new Promise((resolve) => setTimeout(resolve, 250));
	}
	child.kill("SIGKILL");
	throw new Error("server did not become healthy within 60 s");
}

/** A customer account whose limits are high enough that the benchmark measures the guard, not 429s. */
export async function benchAccount(base) {
	const admin = await api(base, "/api/auth/login", { body: { username: "admin", password: "admin-password" } });
	const username = `bench${Date.now()}`;
	const password = "benchmark password";
	const limits = Object.fromEntries(
		["pbx", "telesales", "autocall", "auth", "integrations", "webhooks", "click-to-call"].map((g) => [g, 100_000]),
	);
	const account = await api(base, "/api/admin/accounts", {
		token: admin.body.token,
		body: { name: "Benchmark", username, password, default_region: "VN", rate_limits: limits, max_connections: 10_000 },
	});
	if (account.status !== 201) throw new Error(`account: ${account.status} ${JSON.stringify(account.body)}`);
	const login = await api(base, "/api/auth/login", { body: { username, password } });
	return { token: login.body.token, accountId: account.body.id, adminToken: admin.body.token };
}
