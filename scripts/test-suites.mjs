// `npm test`'s second half: the vitest suite and the end-to-end suites, in two lanes at once so
// CI stays under 15 minutes on two cores. Each suite starts its own server on its own port with
// its own state, so lanes do not share anything but the CPU. vitest, the longest, has a lane of
// its own; the other lane's suites mostly wait (the SDK's rate-limit windows, the carriers'
// stand-ins, the browser) and fit beside it.
//
// A suite's output is kept in .test-results/<suite>.log and printed whole when it ends, so the
// lanes' lines never interleave. Every suite runs even after one fails; the exit code is the
// first failure's, and a table of every suite's result and wall time ends the run.
//
//   node scripts/test-suites.mjs            (all)
//   node scripts/test-suites.mjs chaos sdk:test   (just these, one lane each in turn)
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const results = `${root}.test-results`;

/** npm scripts per lane, in order. */
const LANES = [
	["vitest", "docs:check"],
	["sdk:test", "carriers", "console:test", "chaos"],
];

const COMMANDS = {
	vitest: ["npx", ["vitest", "run"]],
};

function commandOf(suite) {
	return COMMANDS[suite] ?? ["npm", ["run", "--silent", suite]];
}

function run(suite) {
	const [command, args] = commandOf(suite);
	const logPath = `${results}/${suite.replace(":", "-")}.log`;
	const log = createWriteStream(logPath);
	const started = Date.now();
	return new Promise((resolve) => {
		const child = spawn(command, args, { cwd: root, env: { ...process.env, FORCE_COLOR: "0" } });
		child.stdout.pipe(log, { end: false });
		child.stderr.pipe(log, { end: false });
		child.on("close", (code, signal) => {
			log.end(() => {
				const seconds = (Date.now() - started) / 1000;
				const ok = code === 0;
				process.stdout.write(
					`\n===== ${suite}: ${ok ? "passed" : `FAILED (${signal ?? `exit ${code}`})`} in ${seconds.toFixed(0)} s =====\n`,
				);
				process.stdout.write(readFileSync(logPath, "utf8"));
				resolve({ suite, ok, code: code ?? 1, seconds });
			});
		});
	});
}

async function lane(suites) {
	const done = [];
	for (const suite of suites) done.push(await run(suite));
	return done;
}

const chosen = process.argv.slice(2);
const lanes = chosen.length > 0 ? [chosen] : LANES;
mkdirSync(results, { recursive: true });
if (lanes.flat().some((suite) => suite === "docs:check" || suite === "console:test")) {
	// Once, before the lanes: two lanes installing Chromium at once would fight over apt's lock.
	const ensured = spawnSync("bash", ["scripts/ensure-chromium.sh"], { cwd: root, stdio: "inherit" });
	if (ensured.status !== 0) process.exit(ensured.status ?? 1);
}
const started = Date.now();
const outcomes = (await Promise.all(lanes.map(lane))).flat();
console.log("\nsuite          result   wall time");
for (const { suite, ok, seconds } of outcomes) {
	console.log(`${suite.padEnd(14)} ${(ok ? "passed" : "FAILED").padEnd(8)} ${seconds.toFixed(0).padStart(5)} s`);
}
console.log(`all suites: ${((Date.now() - started) / 1000).toFixed(0)} s`);
const failed = outcomes.find((outcome) => !outcome.ok);
process.exit(failed ? failed.code || 1 : 0);
