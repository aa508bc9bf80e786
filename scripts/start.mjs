// `npm start`: build the console (/console's static assets), apply the D1 migrations to the
// local database, then serve on 127.0.0.1:8787.
// The bootstrap admin (BOOTSTRAP_ADMIN_USERNAME / _PASSWORD, locally admin / admin-password)
// is created on its first login.
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { buildConsole } from "../console/build.mjs";

const wrangler = fileURLToPath(new URL("../node_modules/wrangler/bin/wrangler.js", import.meta.url));
const run = (args, options = {}) => spawnSync(process.execPath, [wrangler, ...args], { stdio: "inherit", ...options });

// A `--persist-to <dir>` for wrangler dev is the migrations' too: the server must find its tables there.
const args = process.argv.slice(2);
const persistAt = args.findIndex((arg) => arg === "--persist-to" || arg.startsWith("--persist-to="));
const persist = persistAt < 0 ? [] : args[persistAt].includes("=") ? [args[persistAt]] : args.slice(persistAt, persistAt + 2);

await buildConsole();

const migrate = run(["d1", "migrations", "apply", "DB", "--local", ...persist], { env: { ...process.env, CI: "true" } });
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

const port = process.env.PORT ?? "8787";
const server = spawn(
	process.execPath,
	[wrangler, "dev", "--ip", "127.0.0.1", "--port", port, "--test-scheduled", "--show-interactive-dev-session=false", ...args],
	// No request.cf lookup: it needs the Internet and only fills in geolocation placeholders.
	{ stdio: "inherit", env: { CLOUDFLARE_CF_FETCH_ENABLED: "false", ...process.env } },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.kill(signal));
server.on("exit", (code) => process.exit(code ?? 0));
