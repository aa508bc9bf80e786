import { describe, expect, it } from "vitest";
import { createCampaign } from "./campaign-helpers";
import { call, callJson, pbxAccount } from "./helpers";

type Representation = Record<string, unknown>;

interface Resource {
	/** The single resource's path (GET and the write). */
	path: string;
	method: "PUT" | "PATCH";
	/** The client's edit of what GET returned. */
	change: (body: Representation) => Representation;
	/** What the edit must leave visible afterwards. */
	expected: Representation;
	/** Identifiers sent with another value: each a 422 naming the field. */
	conflicts: Representation;
}

/**
 * The spec's optimistic-locking story, as a client writes it: GET, edit the JSON, send the
 * whole of it back with If-Match. Then conflicting identifiers, then the stale ETag again.
 */
async function roundTrip(token: string, resource: Resource) {
	const got = await callJson<Representation>(resource.path, { token });
	expect(got.status).toBe(200);
	expect(got.body).not.toHaveProperty("account_id");
	const etag = got.response.headers.get("ETag") ?? "";
	expect(etag).not.toBe("");

	for (const [field, value] of Object.entries(resource.conflicts)) {
		const refused = await callJson<{ errors: Record<string, string[]> }>(resource.path, {
			method: resource.method,
			token,
			headers: { "If-Match": etag },
			body: { ...resource.change(got.body), [field]: value },
		});
		expect(refused.status, `${field} conflicting`).toBe(422);
		expect(Object.keys(refused.body.errors ?? {}), field).toEqual([field]);
	}

	const written = await callJson<Representation>(resource.path, {
		method: resource.method,
		token,
		headers: { "If-Match": etag },
		body: resource.change(got.body),
	});
	expect(written.status, JSON.stringify(written.body)).toBe(200);
	expect(written.body).toMatchObject(resource.expected);
	expect(written.body).not.toHaveProperty("account_id");
	expect(written.body.version).toBe((got.body.version as number) + 1);

	const after = await callJson<Representation>(resource.path, { token });
	expect(after.body).toMatchObject(resource.expected);

	// The same representation once more with the ETag it came with: someone (this client) changed it since.
	const stale = await call(resource.path, {
		method: resource.method,
		token,
		headers: { "If-Match": etag },
		body: resource.change(got.body),
	});
	expect(stale.status).toBe(412);
}

describe("PUT / PATCH take back the GET representation", () => {
	it("extensions: PUT the GET JSON with a new name", async () => {
		const account = await pbxAccount();
		await roundTrip(account.token, {
			path: "/api/pbx/extensions/1001",
			method: "PUT",
			change: (body) => ({ ...body, name: "Reception" }),
			expected: { extension: "1001", name: "Reception" },
			conflicts: { extension: "1002", id: crypto.randomUUID() },
		});
		const list = await callJson<{ data: Representation[] }>("/api/pbx/extensions", { token: account.token });
		expect(list.body.data[0]).not.toHaveProperty("account_id");
	});

	it("extensions: read-only fields are still type-checked, and unknown fields are still refused", async () => {
		const account = await pbxAccount();
		const got = await callJson<Representation>("/api/pbx/extensions/1001", { token: account.token });
		for (const [field, value] of [
			["version", "two"],
			["created_at", 5],
			["account_id", account.id],
		] as const) {
			const refused = await callJson<{ errors: Record<string, string[]> }>("/api/pbx/extensions/1001", {
				method: "PUT",
				token: account.token,
				body: { ...got.body, [field]: value },
			});
			expect(refused.status, field).toBe(422);
		}
		// Version and timestamps describe the copy, not the change: other values are ignored (If-Match does the locking).
		const ignored = await callJson<Representation>("/api/pbx/extensions/1001", {
			method: "PUT",
			token: account.token,
			body: { ...got.body, version: 99, updated_at: "2020-01-01T00:00:00.000Z", name: "Kept" },
		});
		expect(ignored.status).toBe(200);
		expect(ignored.body).toMatchObject({ name: "Kept", version: 2 });
	});

	it("telesales campaigns: PATCH the GET JSON with a new name", async () => {
		const account = await pbxAccount();
		const created = await callJson<{ id: string }>("/api/telesales/campaigns", { token: account.token, body: { name: "Q1" } });
		expect(created.body).not.toHaveProperty("account_id");
		await roundTrip(account.token, {
			path: `/api/telesales/campaigns/${created.body.id}`,
			method: "PATCH",
			change: (body) => ({ ...body, name: "Q1 renewals", status: "active" }),
			expected: { name: "Q1 renewals", status: "active" },
			conflicts: { id: crypto.randomUUID() },
		});
	});

	it("leads: PATCH the GET JSON with a new status", async () => {
		const account = await pbxAccount();
		const campaign = await callJson<{ id: string }>("/api/telesales/campaigns", { token: account.token, body: { name: "Q1" } });
		const other = await callJson<{ id: string }>("/api/telesales/campaigns", { token: account.token, body: { name: "Q2" } });
		const lead = await callJson<{ id: string }>(`/api/telesales/campaigns/${campaign.body.id}/leads`, {
			token: account.token,
			body: { phone: "0987111222", attributes: { source: "fair" } },
		});
		expect(lead.body).not.toHaveProperty("account_id");
		await roundTrip(account.token, {
			path: `/api/telesales/leads/${lead.body.id}`,
			method: "PATCH",
			change: (body) => ({ ...body, status: "contacted", notes: "Call back Friday" }),
			expected: { status: "contacted", notes: "Call back Friday", phone: "+84987111222", attributes: { source: "fair" } },
			conflicts: { id: crypto.randomUUID(), campaign_id: other.body.id, phone: "+84987000000" },
		});
		const list = await callJson<{ data: Representation[] }>(`/api/telesales/campaigns/${campaign.body.id}/leads`, {
			token: account.token,
		});
		expect(list.body.data[0]).not.toHaveProperty("account_id");
	});

	it("webhook endpoints: PATCH the GET JSON with a new description", async () => {
		const account = await pbxAccount();
		const created = await callJson<{ id: string }>("/api/webhooks/endpoints", {
			token: account.token,
			body: { url: "https://receiver.example/hooks", events: ["sms.*"] },
		});
		expect(created.body).not.toHaveProperty("account_id");
		await roundTrip(account.token, {
			path: `/api/webhooks/endpoints/${created.body.id}`,
			method: "PATCH",
			change: (body) => ({ ...body, description: "CRM", events: ["sms.*", "call.completed"] }),
			expected: { description: "CRM", events: ["sms.*", "call.completed"], enabled: true },
			conflicts: { id: crypto.randomUUID() },
		});
	});

	it("autocall campaigns: PATCH the GET JSON (live counters and all) with a new pace", async () => {
		const account = await pbxAccount();
		const campaign = await createCampaign(account);
		expect(campaign).not.toHaveProperty("account_id");
		await roundTrip(account.token, {
			path: `/api/autocall/campaigns/${campaign.id}`,
			method: "PATCH",
			change: (body) => ({ ...body, max_concurrent_calls: 4, end_time: "18:00" }),
			expected: { max_concurrent_calls: 4, end_time: "18:00", timezone: "America/New_York" },
			conflicts: {
				id: crypto.randomUUID(),
				agent_id: crypto.randomUUID(),
				contact_source: "folder",
				scheduled_at: "2031-01-01T00:00:00.000Z",
			},
		});
		const list = await callJson<{ data: Representation[] }>("/api/autocall/campaigns", { token: account.token });
		expect(list.body.data[0]).not.toHaveProperty("account_id");
	});
});
