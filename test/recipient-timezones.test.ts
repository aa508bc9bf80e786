import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { seedPayload } from "./campaign-helpers";
import { callJson, pbxAccount } from "./helpers";

/** Every contact and lead carries what was given (`timezone`) and what calls respect (`recipient_timezones`). */

interface Lead {
	id: string;
	phone: string;
	timezone: string | null;
	recipient_timezones: string[];
	version: number;
}
interface Report {
	created: number;
	invalid: number;
	rows: { row: number; result: string; errors?: Record<string, string[]> }[];
}
interface ErrorBody {
	message: string;
	errors?: Record<string, string[]>;
}

const NOT_A_ZONE = "Not an IANA time zone, e.g. America/New_York.";

async function telesalesCampaign() {
	const account = await pbxAccount();
	const created = await callJson<{ id: string }>("/api/telesales/campaigns", { token: account.token, body: { name: "Zones" } });
	return { account, campaignId: created.body.id };
}

describe("leads", () => {
	it("create: its own zone, else the number's; an invalid zone is a 422 naming the field and stores nothing", async () => {
		const { account, campaignId } = await telesalesCampaign();
		const path = `/api/telesales/campaigns/${campaignId}/leads`;
		const own = await callJson<Lead>(path, {
			token: account.token,
			body: { phone: "+12125550101", timezone: "America/Chicago" },
		});
		expect(own.status).toBe(201);
		expect(own.body).toMatchObject({ timezone: "America/Chicago", recipient_timezones: ["America/Chicago"] });
		const derived = await callJson<Lead>(path, { token: account.token, body: { phone: "+18085550102" } });
		expect(derived.body).toMatchObject({ timezone: null, recipient_timezones: ["Pacific/Honolulu"] });
		const unknown = await callJson<Lead>(path, { token: account.token, body: { phone: "+79161234567" } });
		expect(unknown.body).toMatchObject({ timezone: null, recipient_timezones: [] });
		const invalid = await callJson<ErrorBody>(path, {
			token: account.token,
			body: { phone: "+12125550103", timezone: "Mars/Olympus" },
		});
		expect(invalid.status).toBe(422);
		expect(invalid.body.errors).toEqual({ timezone: [NOT_A_ZONE] });
		const stored = await env.DB.prepare("SELECT count(*) AS n FROM leads WHERE campaign_id = ? AND phone = '+12125550103'")
			.bind(campaignId)
			.first();
		expect(stored?.n).toBe(0);
	});

	it("PATCH sets and clears it; GET's whole representation goes back (recipient_timezones ignored)", async () => {
		const { account, campaignId } = await telesalesCampaign();
		const created = await callJson<Lead>(`/api/telesales/campaigns/${campaignId}/leads`, {
			token: account.token,
			body: { phone: "+13035550104" },
		});
		const path = `/api/telesales/leads/${created.body.id}`;
		expect(created.body.recipient_timezones).toEqual(["America/Denver"]);
		const set = await callJson<Lead>(path, { method: "PATCH", token: account.token, body: { timezone: "America/Phoenix" } });
		expect(set.body).toMatchObject({ timezone: "America/Phoenix", recipient_timezones: ["America/Phoenix"] });
		const bad = await callJson<ErrorBody>(path, { method: "PATCH", token: account.token, body: { timezone: "EST5EDT-ish" } });
		expect(bad.status).toBe(422);
		expect(bad.body.errors).toEqual({ timezone: [NOT_A_ZONE] });
		const got = await callJson<Lead>(path, { token: account.token });
		expect(got.body.timezone).toBe("America/Phoenix");
		const back = await callJson<Lead>(path, {
			method: "PATCH",
			token: account.token,
			body: { ...got.body, timezone: null },
			headers: { "If-Match": got.response.headers.get("ETag") ?? "" },
		});
		expect(back.status).toBe(200);
		expect(back.body).toMatchObject({ timezone: null, recipient_timezones: ["America/Denver"] });
		// The bulk PATCH takes it too.
		const bulk = await callJson<{ results: { result: string }[] }>("/api/telesales/leads/bulk", {
			method: "PATCH",
			token: account.token,
			body: { leads: [{ id: created.body.id, timezone: "Europe/Paris" }] },
		});
		expect(bulk.body.results).toEqual([{ id: created.body.id, result: "updated" }]);
		expect((await callJson<Lead>(path, { token: account.token })).body.recipient_timezones).toEqual(["Europe/Paris"]);
	});

	it("bulk import, JSON and CSV: a valid zone is stored, an invalid one makes its row invalid (or the atomic import a 422)", async () => {
		const { account, campaignId } = await telesalesCampaign();
		const path = `/api/telesales/campaigns/${campaignId}/leads/bulk-import`;
		const json = await callJson<Report>(path, {
			token: account.token,
			body: {
				leads: [
					{ phone: "+14155550105", timezone: "America/Los_Angeles" },
					{ phone: "+14155550106", timezone: "Nowhere/Land" },
					{ phone: "+14155550107" },
				],
			},
		});
		expect(json.status).toBe(201);
		expect(json.body).toMatchObject({ created: 2, invalid: 1 });
		expect(json.body.rows[1]).toMatchObject({ result: "invalid", errors: { timezone: [NOT_A_ZONE] } });
		const atomic = await callJson<ErrorBody>(path, {
			token: account.token,
			body: { atomic: true, leads: [{ phone: "+14155550108", timezone: "Nowhere/Land" }] },
		});
		expect(atomic.status).toBe(422);
		expect(atomic.body.errors).toEqual({ "leads.0.timezone": [NOT_A_ZONE] });
		const csv = await callJson<Report>(path, {
			token: account.token,
			method: "POST",
			rawBody: "phone,Timezone,name\n+13125550109,America/Chicago,Chi\n+13125550110,,Derived\n+13125550111,Bad/Zone,Bad\n",
			headers: { "Content-Type": "text/csv" },
		});
		expect(csv.status).toBe(201);
		expect(csv.body).toMatchObject({ created: 2, invalid: 1 });
		expect(csv.body.rows[2]?.errors).toEqual({ timezone: [NOT_A_ZONE] });
		const listed = await callJson<{ data: Lead[] }>(`/api/telesales/campaigns/${campaignId}/leads?limit=100`, {
			token: account.token,
		});
		const byPhone = new Map(listed.body.data.map((lead) => [lead.phone, lead]));
		expect(byPhone.get("+14155550105")).toMatchObject({ timezone: "America/Los_Angeles" });
		expect(byPhone.get("+14155550107")).toMatchObject({ timezone: null, recipient_timezones: ["America/Los_Angeles"] });
		expect(byPhone.get("+13125550109")).toMatchObject({ timezone: "America/Chicago" });
		expect(byPhone.get("+13125550110")).toMatchObject({ timezone: null, recipient_timezones: ["America/Chicago"] });
		expect(byPhone.has("+13125550111")).toBe(false);
	});
});

describe("contacts", () => {
	it("folder import, JSON and CSV: the folder's listing shows each contact's zone and the zones calls respect", async () => {
		const account = await pbxAccount();
		const folder = await callJson<{ id: string }>("/api/autocall/contact-folders", {
			token: account.token,
			body: { name: "Zones" },
		});
		const path = `/api/autocall/contact-folders/${folder.body.id}/contacts/bulk-import`;
		const json = await callJson<Report>(path, {
			token: account.token,
			body: {
				contacts: [
					{ phone: "+19075550112" },
					{ phone: "+33123456789", timezone: "Europe/Paris" },
					{ phone: "+81312345678", timezone: "Asia/Tokio" },
					"+16025550113",
				],
			},
		});
		expect(json.body).toMatchObject({ created: 3, invalid: 1 });
		expect(json.body.rows[2]?.errors).toEqual({ timezone: [NOT_A_ZONE] });
		const csv = await callJson<Report>(path, {
			token: account.token,
			method: "POST",
			// `timezone` is the contact's own field now; other columns are still attributes.
			rawBody: "phone,timezone,tier\n+12125550114,America/Detroit,gold\n",
			headers: { "Content-Type": "text/csv" },
		});
		expect(csv.body).toMatchObject({ created: 1, invalid: 0 });
		const atomic = await callJson<ErrorBody>(path, {
			token: account.token,
			body: { atomic: true, contacts: [{ phone: "+12125550115", timezone: "Mars/Olympus" }] },
		});
		expect(atomic.status).toBe(422);
		expect(atomic.body.errors).toEqual({ "contacts.0.timezone": [NOT_A_ZONE] });
		const listed = await callJson<{
			data: { phone: string; timezone: string | null; recipient_timezones: string[]; attributes: Record<string, unknown> }[];
		}>(`/api/autocall/contact-folders/${folder.body.id}/contacts`, { token: account.token });
		expect(listed.status).toBe(200);
		const byPhone = new Map(listed.body.data.map((contact) => [contact.phone, contact]));
		expect(byPhone.get("+19075550112")).toMatchObject({
			timezone: null,
			recipient_timezones: ["America/Adak", "America/Anchorage"],
		});
		expect(byPhone.get("+33123456789")).toMatchObject({ timezone: "Europe/Paris", recipient_timezones: ["Europe/Paris"] });
		expect(byPhone.get("+16025550113")).toMatchObject({ timezone: null, recipient_timezones: ["America/Phoenix"] });
		expect(byPhone.get("+12125550114")).toMatchObject({
			timezone: "America/Detroit",
			recipient_timezones: ["America/Detroit"],
			attributes: { tier: "gold" },
		});
		expect(byPhone.size).toBe(4);
	});

	it("campaign inline contacts: a zone is validated (422 naming the row) and goes with the contact to the campaign", async () => {
		const account = await pbxAccount();
		const refused = await callJson<ErrorBody>("/api/autocall/campaigns", {
			token: account.token,
			body: seedPayload({ contacts: ["+12125550116", { phone: "+12125550117", timezone: "Mars/Olympus" }] }),
		});
		expect(refused.status).toBe(422);
		expect(refused.body.errors).toEqual({ "contacts.1.timezone": [NOT_A_ZONE] });
		expect(await env.DB.prepare("SELECT count(*) AS n FROM campaign_contacts WHERE phone = '+12125550116'").first()).toEqual({
			n: 0,
		});
		const created = await callJson<{ id: string }>("/api/autocall/campaigns", {
			token: account.token,
			body: seedPayload({ contacts: ["+12125550118", { phone: "+12125550119", timezone: "Pacific/Honolulu" }] }),
		});
		expect(created.status).toBe(201);
		const { results } = await env.DB.prepare(
			"SELECT phone, timezone FROM campaign_contacts WHERE campaign_id = ? ORDER BY position",
		)
			.bind(created.body.id)
			.all();
		expect(results).toEqual([
			{ phone: "+12125550118", timezone: null },
			{ phone: "+12125550119", timezone: "Pacific/Honolulu" },
		]);
	});

	it("a folder campaign takes each contact's own zone with it", async () => {
		const account = await pbxAccount();
		const folder = await callJson<{ id: string }>("/api/autocall/contact-folders", { token: account.token, body: { name: "F" } });
		await callJson(`/api/autocall/contact-folders/${folder.body.id}/contacts/bulk-import`, {
			token: account.token,
			body: { contacts: [{ phone: "+12125550120", timezone: "America/Anchorage" }, "+12125550121"] },
		});
		const created = await callJson<{ id: string }>("/api/autocall/campaigns", {
			token: account.token,
			body: seedPayload({ contact_source: "folder", contact_folder_id: folder.body.id, contacts: undefined }),
		});
		expect(created.status).toBe(201);
		const { results } = await env.DB.prepare("SELECT phone, timezone FROM campaign_contacts WHERE campaign_id = ? ORDER BY phone")
			.bind(created.body.id)
			.all();
		expect(results).toEqual([
			{ phone: "+12125550120", timezone: "America/Anchorage" },
			{ phone: "+12125550121", timezone: null },
		]);
	});
});
