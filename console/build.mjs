// `npm run console:build`: bundles console/src (Preact, uPlot) with esbuild into
// console/dist/console/, the Worker's static assets (wrangler.toml [assets]), served at
// /console. The output is not committed: npm start, npm run dev, deploy:check and vitest build
// it first. Prints each file's size, raw and gzipped.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const here = fileURLToPath(new URL(".", import.meta.url));
const dist = `${here}dist`;
const out = `${dist}/console`;

const page = (script, style) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>callgate console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/${style}">
<script type="module" src="/console/${script}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The console needs JavaScript.</noscript>
</body>
</html>
`;

/** Builds the console; returns each file with its raw and gzipped size in bytes. */
export async function buildConsole() {
	// The directory stays (a running `wrangler dev` watches it), and the previous build's files go
	// only once the new ones are written: a server another script runs from this tree meanwhile
	// (npm test's lanes build at once) never finds its page or bundle missing.
	mkdirSync(out, { recursive: true });
	const previous = readdirSync(out);
	const result = await build({
		entryPoints: { app: `${here}src/main.tsx` },
		bundle: true,
		minify: true,
		format: "esm",
		target: "es2022",
		jsx: "automatic",
		jsxImportSource: "preact",
		outdir: out,
		// Content-hashed names: the Worker serves them as immutable, index.html as no-cache.
		entryNames: "[name]-[hash]",
		metafile: true,
		legalComments: "eof",
		logLevel: "warning",
	});
	const outputs = Object.keys(result.metafile.outputs).map((path) => basename(path));
	const script = outputs.find((name) => name.endsWith(".js"));
	const style = outputs.find((name) => name.endsWith(".css"));
	if (!script || !style) throw new Error(`console build: expected a .js and a .css output, got ${outputs.join(", ")}`);
	writeFileSync(`${out}/index.html.tmp`, page(script, style));
	renameSync(`${out}/index.html.tmp`, `${out}/index.html`);
	const current = new Set([...outputs, "index.html"]);
	for (const name of previous) if (!current.has(name)) rmSync(`${out}/${name}`, { recursive: true, force: true });
	return [...outputs, "index.html"].map((name) => {
		const bytes = readFileSync(`${out}/${name}`);
		return { path: `${out}/${name}`, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
	});
}

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} kB`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const files = await buildConsole();
	for (const file of files) {
		console.log(
			`  ${relative(process.cwd(), file.path).padEnd(44)} ${kb(file.raw).padStart(9)} ${kb(file.gzip).padStart(9)} gzip`,
		);
	}
	const raw = files.reduce((sum, file) => sum + file.raw, 0);
	const gzip = files.reduce((sum, file) => sum + file.gzip, 0);
	console.log(`console: ${kb(raw)} (${kb(gzip)} gzip) in ${relative(process.cwd(), out)}`);
}
