// CSV bulk imports at scale: one 100,000-row text/csv request to each import route.
import { api } from "./server.mjs";

const ROWS = 100_000;

function csvFile(rows) {
	const lines = ["phone,name,attributes.city"];
	for (let i = 0; i < rows; i++) lines.push(`09${String(20_000_000 + i).slice(-8)},"Lead ${i}",Hanoi`);
	return `${lines.join("\r\n")}\r\n`;
}

async function postCsv(base, token, path, csv) {
	const started = performance.now();
	const response = await fetch(`${base}${path}`, {
		method: "POST",
		headers: { Authorization: `Bearer ${token}`, "Content-Type": "text/csv" },
		body: csv,
		signal: AbortSignal.timeout(300_000),
	});
	const body = await response.json();
	const seconds = (performance.now() - started) / 1000;
	if (response.status !== 201 || body.created !== ROWS) {
		throw new Error(`CSV import to ${path} failed: ${response.status} ${JSON.stringify(body).slice(0, 300)}`);
	}
	return seconds;
}

/** Prints rows/s of each route's 100,000-row CSV import beside the JSON figure (`jsonRowsPerSecond`). */
export async function csvImports({ base, token }, jsonRowsPerSecond) {
	const csv = csvFile(ROWS);
	console.log(
		`## CSV bulk import (${ROWS.toLocaleString("en-US")} rows in one text/csv request, ${(csv.length / 1e6).toFixed(1)} MB)\n`,
	);
	const campaign = await api(base, "/api/telesales/campaigns", { token, body: { name: "CSV import" } });
	const folder = await api(base, "/api/autocall/contact-folders", { token, body: { name: "CSV import" } });
	const routes = [
		["leads", `/api/telesales/campaigns/${campaign.body.id}/leads/bulk-import`],
		["contacts", `/api/autocall/contact-folders/${folder.body.id}/contacts/bulk-import`],
	];
	const json = jsonRowsPerSecond
		? `   (JSON, 10,000 leads per request: ${Math.round(jsonRowsPerSecond).toLocaleString("en-US")} rows/s)`
		: "";
	for (const [name, path] of routes) {
		const seconds = await postCsv(base, token, path, csv);
		const rate = ROWS / seconds;
		console.log(`- ${name}: ${seconds.toFixed(2)} s → ${Math.round(rate).toLocaleString("en-US")} rows/s${json}`);
		if (rate < 50_000) console.log("  (below the 50,000 rows/s target)");
	}
	console.log("");
}
