import { describe, expect, it } from "vitest";
import { call, callJson, countRows, pbxAccount } from "./helpers";

describe("caller ids wherever set", () => {
	it("a click-to-call from an extension whose caller id the account no longer holds does not present that number: 422 until the extension is updated", async () => {
		const account = await pbxAccount();
		const callerId = await callJson<{ id: string; number: string }>("/api/pbx/caller-ids", {
			token: account.token,
			body: { number: "+842838123456", label: "HQ" },
		});
		expect(callerId.status).toBe(201);
		const extension = await callJson<{ caller_id: string }>("/api/pbx/extensions", {
			token: account.token,
			body: { extension: "1002", name: "Sales", caller_id: "+842838123456" },
		});
		expect(extension.body.caller_id).toBe("+842838123456");
		// The account gives the number up: it is no longer one of its caller ids.
		expect((await call(`/api/pbx/caller-ids/${callerId.body.id}`, { method: "DELETE", token: account.token })).status).toBe(204);

		const placed = await callJson<{ caller_id: string | null; message?: string }>("/api/pbx/calls/click-to-call", {
			token: account.token,
			body: { from_extension: "1002", to_phone: "0987654321" },
		});
		expect(placed.status).toBe(422);
		expect(placed.body.message).toContain("no longer one of this account's caller ids");
		expect(await countRows("calls", "account_id = ?", account.id)).toBe(0);
	});
});
