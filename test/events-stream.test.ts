import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AccountEvents } from "../durable-objects/account-events";
import { hashToken } from "../workers/auth/tokens";
import { tokenGuard } from "../workers/guard/guard";
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

/** Reads until the stream ends; false if it is still open after `limitMs`. */
async function endsWithin(reader: ReadableStreamDefaultReader<Uint8Array>, limitMs: number): Promise<boolean> {
	const deadline = new Promise<false>((resolve) => setTimeout(() => resolve(false), limitMs));
	const end = (async () => {
		for (;;) if ((await reader.read()).done) return true;
	})().catch(() => true);
	return await Promise.race([end, deadline]);
}

/** Ends every stream the account's AccountEvents object feeds: closed from inside, or the object reset. */
async function endUpstreams(accountId: string, how: "close" | "error") {
	const stub = env.ACCOUNT_EVENTS.get(env.ACCOUNT_EVENTS.idFromName(accountId));
	await runInDurableObject(stub, async (instance: AccountEvents, state) => {
		// The subscriber set is private: reached here only to end the streams from the inside.
		const { subscribers } = instance as unknown as { subscribers: Set<WritableStreamDefaultWriter<Uint8Array>> };
		expect(subscribers.size).toBe(1);
		if (how === "close") for (const writer of subscribers) await writer.close();
		else state.abort("reset by the test");
	}).catch((error: unknown) => {
		if (how === "close") throw error;
	});
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
		// Ids are unique, not of one shape: a call.started id derives from its call, for dedupe.
		expect(started).toMatch(/id: evt_\w+\nevent: call.started\ndata: \{/);

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
		// Everything the stream opens with, its position included: anything after it would be an event.
		expect(await readUntil(reader, "id: pos_")).toMatch(/id: pos_0\n\n$/);
		const campaign = await createCampaign(owner, { contacts: phones(1) });
		await call(`/api/autocall/campaigns/${campaign.id}/pause`, { method: "POST", token: owner.token });
		const next = await Promise.race([
			reader.read().then(() => "event"),
			new Promise((resolve) => setTimeout(() => resolve("quiet"), 300)),
		]);
		expect(next).toBe("quiet");
		await reader.cancel();
	});

	for (const how of ["close", "error"] as const) {
		it(`an upstream that ${how === "close" ? "ends" : "fails"} closes the client's stream and frees its slot`, async () => {
			const account = await pbxAccount({ max_connections: 1 });
			const guard = tokenGuard(env, hashToken(account.token));
			const response = await call("/api/pbx/events", { token: account.token });
			const reader = response.body?.getReader();
			if (!reader) throw new Error("no stream");
			expect(await readUntil(reader, ": connected")).toContain(": connected");
			expect(await guard.connectionsInFlight()).toBe(1);

			await endUpstreams(account.id, how);
			expect(await endsWithin(reader, 2_000)).toBe(true);
			expect(await guard.connectionsInFlight()).toBe(0);
			const next = await call("/api/pbx/events", { token: account.token });
			expect(next.status).toBe(200);
			await next.body?.cancel();
		});
	}
});
