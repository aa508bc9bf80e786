import { describe, expect, it } from "vitest";
import { callJson, countRows, pbxAccount } from "./helpers";

describe("an Idempotency-Key across spellings of one route", () => {
	it("a retry that spells the path with a trailing slash (or %2D) replays the first answer, not a 422", async () => {
		const account = await pbxAccount();
		const key = crypto.randomUUID();
		const body = { from_extension: "1001", to_phone: "0987654321" };
		const first = await callJson<{ id: string }>("/api/pbx/calls/click-to-call", {
			token: account.token,
			body,
			headers: { "Idempotency-Key": key },
		});
		expect(first.status).toBe(201);
		for (const path of ["/api/pbx/calls/click-to-call/", "/api/pbx/calls/click%2Dto-call"]) {
			const retry = await callJson<{ id: string }>(path, { token: account.token, body, headers: { "Idempotency-Key": key } });
			expect(retry.status, path).toBe(201);
			expect(retry.response.headers.get("Idempotent-Replayed"), path).toBe("true");
			expect(retry.body.id).toBe(first.body.id);
		}
		expect(await countRows("calls", "account_id = ?", account.id)).toBe(1);
	});
});
