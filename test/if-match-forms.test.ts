import { describe, expect, it } from "vitest";
import { call, callJson, countRows, pbxAccount } from "./helpers";

/** A tag this server never issued: its version overflows to Infinity in expectedVersion(). */
const HUGE = `"v${"9".repeat(400)}"`;

describe("If-Match forms", () => {
	it("an If-Match whose version is too large to be one of ours is a 412 on PUT, never an unconditional write", async () => {
		const account = await pbxAccount();
		const put = await call("/api/pbx/extensions/1001", {
			method: "PUT",
			token: account.token,
			headers: { "If-Match": HUGE },
			body: { name: "written over any version" },
		});
		expect(put.status).toBe(412);
		const now = await callJson<{ name: string; version: number }>("/api/pbx/extensions/1001", { token: account.token });
		expect(now.body).toMatchObject({ name: "Front desk", version: 1 });
	});

	it("...and on DELETE of a telesales campaign (which takes its leads and dispositions with it)", async () => {
		const account = await pbxAccount();
		const campaign = await callJson<{ id: string }>("/api/telesales/campaigns", { token: account.token, body: { name: "Q1" } });
		const removed = await call(`/api/telesales/campaigns/${campaign.body.id}`, {
			method: "DELETE",
			token: account.token,
			headers: { "If-Match": HUGE },
		});
		expect(removed.status).toBe(412);
		expect(await countRows("telesales_campaigns", "id = ?", campaign.body.id)).toBe(1);
	});

	it("If-Match with a list naming the current tag proceeds (RFC 9110 §13.1.1: any listed tag matches)", async () => {
		const account = await pbxAccount();
		const put = await call("/api/pbx/extensions/1001", {
			method: "PUT",
			token: account.token,
			headers: { "If-Match": '"v7", "v1"' },
			body: { name: "listed" },
		});
		expect(put.status).toBe(200);
	});
});
