// A fresh clone has no console/dist (the build is not committed): the scripts that start
// `wrangler dev` themselves (bench/server.mjs for `npm run bench`, scripts/docs-check.mjs) must
// build it first, as `npm start`, vitest and deploy:check do. This clones HEAD into a temporary
// directory and starts the benchmark's server there, on 127.0.0.1:${FRESH_CLONE_PORT:-8816}
// (nothing else may listen on it). About 11 s: `npm run console:test` runs it last, on its own
// port once its server is down; alone, `node --test test/e2e/fresh-clone.test.mjs`.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const PORT = Number(process.env.FRESH_CLONE_PORT ?? 8816);

test("a fresh clone's `npm run bench` server starts and serves /console", async () => {
	const dir = mkdtempSync(join(tmpdir(), "callgate-fresh-"));
	const clone = join(dir, "callgate");
	try {
		execFileSync("git", ["clone", "--quiet", root, clone]);
		symlinkSync(join(root, "node_modules"), join(clone, "node_modules"));
		assert.equal(existsSync(join(clone, "console/dist")), false, "a clone has no console build");
		const { startServer } = await import(join(clone, "bench/server.mjs"));
		let server;
		try {
			server = await startServer({ port: PORT, persistTo: join(dir, "state") });
		} catch (error) {
			assert.fail(`bench/server.mjs could not start on a fresh clone: ${error instanceof Error ? error.message : error}`);
		}
		try {
			const response = await fetch(`http://127.0.0.1:${PORT}/console`);
			assert.equal(response.status, 200);
		} finally {
			await server.stop?.();
		}
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});
