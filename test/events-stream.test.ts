import { describe, expect, it } from "vitest";
import { createCampaign, pacerOf, phones, takeOver } from "./campaign-helpers";
import { call, pbxAccount } from "./helpers";

async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, needle: string, limit = 50): Promise<string> {
	let text = "";
	for (let i = 0; i < limit && !text.includes(needle); i++) {
		const { value, done } = await reader.read();
		if (done) break;
		text += new TextDecoder().decode(value);
	}
	return text;
}

describe("GET /api/pbx/events", () => {
	it("streams the account's campaign and call events, each with an id", async () => {
		const account = await pbxAccount();
		const campaign = await createCampaign(account, { contacts: phones(2), max_concurrent_calls: 1 });
		const response = await call("/api/pbx/events", { token: account.token });
		const reader = response.body?.getReader();
		if (!reader) throw new Error("no stream");
		expect(await readUntil(reader, ": connected")).toContain(": connected");

		const clock = { now: Date.parse("2030-03-04T17:00:00Z") };
		const { inject } = takeOver(campaign.id, clock);
		await inject();
		await pacerOf(campaign.id).wake(campaign.id);
		const started = await readUntil(reader, "event: call.started");
		expect(started).toContain("event: campaign.activated");
		expect(started).toMatch(/id: evt_[0-9a-f]{32}\nevent: call.started\ndata: \{/);

		await call(`/api/autocall/campaigns/${campaign.id}/pause`, { method: "POST", token: account.token });
		const paused = await readUntil(reader, "event: campaign.paused");
		const frame = paused.split("\n\n").find((f) => f.includes("event: campaign.paused")) ?? "";
		const data = JSON.parse(frame.split("data: ")[1] ?? "{}");
		expect(data).toMatchObject({ type: "campaign.paused", data: { campaign_id: campaign.id, status: "paused" } });
		await reader.cancel();
	});

	it("another account's stream sees none of it", async () => {
		const [owner, other] = await Promise.all([pbxAccount(), pbxAccount()]);
		const response = await call("/api/pbx/events", { token: other.token });
		const reader = response.body?.getReader();
		if (!reader) throw new Error("no stream");
		await reader.read();
		const campaign = await createCampaign(owner, { contacts: phones(1) });
		await call(`/api/autocall/campaigns/${campaign.id}/pause`, { method: "POST", token: owner.token });
		const next = await Promise.race([
			reader.read().then(() => "event"),
			new Promise((resolve) => setTimeout(() => resolve("quiet"), 300)),
		]);
		expect(next).toBe("quiet");
		await reader.cancel();
	});
});
