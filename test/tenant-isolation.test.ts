import { describe, expect, it } from "vitest";
import { call, callJson, countRows, pbxAccount } from "./helpers";

describe("tenant isolation: another account's ids are 404 everywhere", () => {
	it("on every route that takes an id", async () => {
		const [owner, intruder] = await Promise.all([pbxAccount(), pbxAccount()]);
		const t = owner.token;
		const campaign = await callJson<{ id: string }>("/api/telesales/campaigns", { token: t, body: { name: "Mine" } });
		const lead = await callJson<{ id: string }>(`/api/telesales/campaigns/${campaign.body.id}/leads`, {
			token: t,
			body: { phone: "0987000222" },
		});
		const placed = await callJson<{ id: string }>("/api/pbx/calls/click-to-call", {
			token: t,
			body: { from_extension: "1001", to_phone: "0987000222" },
		});
		const callerId = await callJson<{ id: string }>("/api/pbx/caller-ids", {
			token: t,
			body: { number: "02838123456", label: "HQ" },
		});
		const queue = await callJson<{ id: string }>("/api/pbx/queues", { token: t, body: { name: "Q", extensions: ["1001"] } });
		const apiToken = await callJson<{ id: string }>("/api/auth/tokens", { token: t, body: { name: "crm" } });
		// The intruder has an extension 1001 of its own; it must see its own, not the owner's.
		await call("/api/pbx/extensions/1001", { method: "PUT", token: t, body: { name: "Owner's" } });

		const c = campaign.body.id;
		const probes: [string, string, unknown?][] = [
			["GET", `/api/telesales/campaigns/${c}`],
			["PATCH", `/api/telesales/campaigns/${c}`, { name: "x" }],
			["DELETE", `/api/telesales/campaigns/${c}`],
			["GET", `/api/telesales/campaigns/${c}/leads`],
			["POST", `/api/telesales/campaigns/${c}/leads`, { phone: "0987000333" }],
			["POST", `/api/telesales/campaigns/${c}/leads/bulk-import`, { leads: [{ phone: "0987000333" }] }],
			["GET", `/api/telesales/leads/${lead.body.id}`],
			["PATCH", `/api/telesales/leads/${lead.body.id}`, { name: "x" }],
			["POST", `/api/telesales/leads/${lead.body.id}/dispositions`, { call_id: placed.body.id, outcome: "sale" }],
			["GET", `/api/pbx/calls/${placed.body.id}`],
			["DELETE", `/api/pbx/caller-ids/${callerId.body.id}`],
			["DELETE", `/api/pbx/queues/${queue.body.id}`],
			["DELETE", `/api/auth/tokens/${apiToken.body.id}`],
			["GET", `/api/admin/accounts/${owner.id}`],
		];
		for (const [method, path, body] of probes) {
			const response = await callJson(path, { method, token: intruder.token, body });
			const expected = path.startsWith("/api/admin/") ? 403 : 404;
			expect(response.status, `${method} ${path}`).toBe(expected);
			expect(response.body).toHaveProperty("message");
		}
		const bulk = await callJson<{ results: { result: string }[] }>("/api/telesales/leads/bulk", {
			method: "PATCH",
			token: intruder.token,
			body: { leads: [{ id: lead.body.id, status: "lost" }] },
		});
		expect(bulk.body.results[0]?.result).toBe("not_found");
		const bulkDelete = await callJson<{ results: { result: string }[] }>("/api/telesales/leads/bulk", {
			method: "DELETE",
			token: intruder.token,
			body: { ids: [lead.body.id] },
		});
		expect(bulkDelete.body.results[0]?.result).toBe("not_found");

		const theirs = await callJson<{ name: string }>("/api/pbx/extensions/1001", { token: intruder.token });
		expect(theirs.body.name).toBe("Front desk");
		expect((await callJson<{ data: unknown[] }>("/api/pbx/calls", { token: intruder.token })).body.data).toHaveLength(0);
		expect((await callJson<{ data: unknown[] }>("/api/telesales/campaigns", { token: intruder.token })).body.data).toHaveLength(
			0,
		);
		const dispositionCallForeign = await callJson(`/api/telesales/leads/${await ownLead(intruder.token)}/dispositions`, {
			token: intruder.token,
			body: { call_id: placed.body.id, outcome: "sale" },
		});
		expect(dispositionCallForeign.status).toBe(422);

		// Nothing of the owner's changed.
		expect(await countRows("leads", "campaign_id = ?", c)).toBe(1);
		expect(await countRows("telesales_campaigns", "id = ? AND name = 'Mine'", c)).toBe(1);
		expect((await call(`/api/auth/me`, { token: t })).status).toBe(200);
	});
});

async function ownLead(token: string): Promise<string> {
	const campaign = await callJson<{ id: string }>("/api/telesales/campaigns", { token, body: { name: "Theirs" } });
	const lead = await callJson<{ id: string }>(`/api/telesales/campaigns/${campaign.body.id}/leads`, {
		token,
		body: { phone: "0987000999" },
	});
	return lead.body.id;
}
