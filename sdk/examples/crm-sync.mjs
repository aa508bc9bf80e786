// A CRM pushing its leads into callgate and placing a call, with @callgate/sdk doing the seed's
// practices: Idempotency-Keys, retries, pacing, caching, If-Match, chunking, a resuming stream.
//
//   npm start                          (in the callgate repository: http://127.0.0.1:8787)
//   node crm-sync.mjs                  (where @callgate/sdk is installed; see sdk/README.md)
//
// CALLGATE_BASE_URL (default http://127.0.0.1:8787); CALLGATE_TOKEN, or CALLGATE_USERNAME and
// CALLGATE_PASSWORD (default: the README's demo account acme, created with the local admin if it
// does not exist yet); CRM_LEADS, how many leads to sync (default 12,000: two import requests).
import { Callgate, CallgateError, isStreamGap, NotFoundError } from "@callgate/sdk";

const baseUrl = process.env.CALLGATE_BASE_URL ?? "http://127.0.0.1:8787";
const leadCount = Number(process.env.CRM_LEADS ?? 12_000);

async function login() {
	if (process.env.CALLGATE_TOKEN) return process.env.CALLGATE_TOKEN;
	const username = process.env.CALLGATE_USERNAME ?? "acme";
	const password = process.env.CALLGATE_PASSWORD ?? "acme-password-1";
	const anonymous = new Callgate({ baseUrl });
	const session = () => anonymous.post("/api/auth/login", { body: { username, password } });
	try {
		return (await session()).token;
	} catch (error) {
		if (!(error instanceof CallgateError && error.status === 401) || process.env.CALLGATE_USERNAME) throw error;
		// A fresh `npm start`: the local platform admin (README) creates the demo account once.
		const admin = (await anonymous.post("/api/auth/login", { body: { username: "admin", password: "admin-password" } })).token;
		await new Callgate({ baseUrl, token: admin }).post("/api/admin/accounts", {
			body: { name: "Acme", username, password, default_region: "VN" },
		});
		return (await session()).token;
	}
}

const callgate = new Callgate({
	baseUrl,
	token: await login(),
	onRetry: (retry) => console.log(`  retrying ${retry.request} in ${Math.round(retry.delayMs)} ms (${retry.reason})`),
});

// Reference data the CRM shows beside its leads: cached for a minute, then revalidated (304).
const [{ data: users }, { data: callerIds }] = await Promise.all([
	callgate.get("/api/pbx/users"),
	callgate.get("/api/pbx/caller-ids"),
]);
console.log(`account: ${users.length} user(s), ${callerIds.length} caller id(s)`);

// The agent's extension, created the first time.
const extension = "1001";
try {
	await callgate.get("/api/pbx/extensions/{extension}", { path: { extension } });
} catch (error) {
	if (!(error instanceof NotFoundError)) throw error;
	await callgate.post("/api/pbx/extensions", { body: { extension, name: "CRM agent" } });
}

// A campaign for this sync. The create carries an Idempotency-Key: retried, it is still one campaign.
const campaign = await callgate.post("/api/telesales/campaigns", {
	body: { name: `CRM sync ${new Date().toISOString().slice(0, 16)}`, status: "active" },
});

// The CRM's leads (made up here): any number, sent as 10,000-row imports, one report back.
const crmLeads = Array.from({ length: leadCount }, (_, i) => ({
	phone: `0987${String(i).padStart(6, "0")}`,
	name: `Customer ${i + 1}`,
	attributes: { crm_id: `CRM-${i + 1}` },
}));
const report = await callgate.importLeads(campaign.id, crmLeads);
console.log(
	`imported ${report.total} leads: ${report.created} created, ${report.duplicates} duplicates, ${report.invalid} invalid`,
);

// Leads the CRM's agents already reached: bulk PATCH, 1,000 per request.
const reached = report.rows.filter((row) => row.result === "created" && row.row % 3 === 0);
const updated = await callgate.updateLeads(reached.map((row) => ({ id: row.id ?? "", status: "contacted" })));
console.log(`marked ${updated.results.filter((result) => result.result === "updated").length} leads contacted`);

// Read, change, write with If-Match; if someone else changed the campaign meanwhile, it is re-read and re-applied.
const described = await callgate.update("patch", "/api/telesales/campaigns/{id}", {
	path: { id: campaign.id },
	change: (current) => ({ description: `${current.description} Synced ${report.created} leads from the CRM.`.trim() }),
});
console.log(`campaign "${described.name}": ${described.description}`);

// Call the first lead from the agent's extension and follow the account's events until the call ends.
const stop = new AbortController();
const deadline = setTimeout(() => stop.abort(new Error("no call.completed within 60 s")), 60_000);
let callId;
let opened;
const streaming = new Promise((resolve) => {
	opened = resolve;
});
const completed = (async () => {
	for await (const event of callgate.events({ signal: stop.signal, onOpen: () => opened() })) {
		if (isStreamGap(event)) console.log(`  ${event.message}`);
		else if (event.type === "call.completed" && event.data.call_id === callId) return event;
	}
})();
await streaming;
const call = await callgate.post("/api/pbx/calls/click-to-call", {
	body: { from_extension: extension, to_phone: crmLeads[0].phone },
});
callId = call.id;
console.log(`calling ${call.to_phone} (call ${call.id})`);
const ended = await completed;
clearTimeout(deadline);
if (!ended) throw stop.signal.reason;
console.log(`call ${ended.data.outcome} after ${ended.data.duration_seconds ?? 0} s`);
console.log("sync done");
