import { describe, expect, it } from "vitest";
import { call, callJson, countRows, pbxAccount } from "./helpers";

describe("PBX", () => {
	it("extensions: create, list, get, PUT, delete; duplicates are 409", async () => {
		const account = await pbxAccount();
		const dup = await callJson("/api/pbx/extensions", { token: account.token, body: { extension: "1001", name: "Again" } });
		expect(dup.status).toBe(409);
		await callJson("/api/pbx/caller-ids", { token: account.token, body: { number: "+842838123456", label: "HQ" } });
		const created = await callJson<{ extension: string; caller_id: string }>("/api/pbx/extensions", {
			token: account.token,
			body: { extension: "1002", name: "Sales", caller_id: "0283 812 3456" },
		});
		expect(created.status).toBe(201);
		expect(created.body.caller_id).toBe("+842838123456");
		const list = await callJson<{ data: { extension: string }[] }>("/api/pbx/extensions", { token: account.token });
		expect(list.body.data.map((e) => e.extension)).toEqual(["1001", "1002"]);
		expect((await call("/api/pbx/extensions/1002", { method: "DELETE", token: account.token })).status).toBe(204);
		expect((await call("/api/pbx/extensions/1002", { token: account.token })).status).toBe(404);
		expect((await call("/api/pbx/extensions/abc", { token: account.token })).status).toBe(404);
	});

	it("click-to-call queues a call with the number in E.164 for the account's region", async () => {
		const account = await pbxAccount();
		const { status, body, response } = await callJson<{ id: string; status: string; to_phone: string; kind: string }>(
			"/api/pbx/calls/click-to-call",
			{
				token: account.token,
				body: { from_extension: "1001", to_phone: "0987654321" },
			},
		);
		expect(status).toBe(201);
		expect(body).toMatchObject({ status: "queued", to_phone: "+84987654321", kind: "click_to_call" });
		expect(response.headers.get("Location")).toBe(`/api/pbx/calls/${body.id}`);
		expect((await callJson<{ id: string }>(`/api/pbx/calls/${body.id}`, { token: account.token })).body.id).toBe(body.id);
		// The dialer takes it from there (the simulated one rings at once).
		const list = await callJson<{ data: { status: string }[] }>("/api/pbx/calls", { token: account.token });
		expect(list.body.data).toHaveLength(1);
		expect(["queued", "ringing"]).toContain(list.body.data[0]?.status);
		// The simulated dialer's callbacks move it on; a late duplicate changes nothing.
		const { applyProviderEvent } = await import("../workers/dialer/provider-events");
		const { env } = await import("cloudflare:workers");
		const done = {
			event_id: `t-${body.id}`,
			call_id: body.id,
			status: "completed" as const,
			occurred_at: new Date().toISOString(),
			duration_seconds: 42,
		};
		expect(await applyProviderEvent(env, done)).toBe("applied");
		expect(await applyProviderEvent(env, done)).toBe("duplicate");
		const completed = await callJson<{ status: string; started_at: string; duration_seconds: number }>(
			`/api/pbx/calls/${body.id}`,
			{ token: account.token },
		);
		expect(completed.body).toMatchObject({ status: "completed", duration_seconds: 42 });
		expect(completed.body.started_at).not.toBeNull();
		expect((await call("/api/pbx/calls?status=completed", { token: account.token })).status).toBe(200);
	});

	it("bad phone numbers, unknown extensions and foreign caller ids are 422 and store nothing", async () => {
		const account = await pbxAccount();
		const cases = [
			[{ from_extension: "1001", to_phone: "12345" }, "to_phone"],
			[{ from_extension: "1001", to_phone: "not a number" }, "to_phone"],
			[{ from_extension: "9999", to_phone: "0987654321" }, "from_extension"],
			[{ from_extension: "1001", to_phone: "0987654321", caller_id: "02838123456" }, "caller_id"],
			[{ from_extension: 1001, to_phone: "0987654321" }, "from_extension"],
		] as const;
		for (const [body, field] of cases) {
			const result = await callJson<{ errors: Record<string, string[]> }>("/api/pbx/calls/click-to-call", {
				token: account.token,
				body,
			});
			expect(result.status, JSON.stringify(body)).toBe(422);
			expect(Object.keys(result.body.errors)).toContain(field);
		}
		expect(await countRows("calls", "account_id = ?", account.id)).toBe(0);
	});

	it("an extension's caller id must be one of the account's caller ids, on create and on PUT", async () => {
		const [account, other] = await Promise.all([pbxAccount(), pbxAccount()]);
		await callJson("/api/pbx/caller-ids", { token: other.token, body: { number: "02838999999", label: "Theirs" } });
		const refused = await callJson<{ errors: Record<string, string[]> }>("/api/pbx/extensions", {
			token: account.token,
			body: { extension: "1002", name: "Sales", caller_id: "02838999999" },
		});
		expect(refused.status).toBe(422);
		expect(Object.keys(refused.body.errors)).toEqual(["caller_id"]);
		expect(await countRows("extensions", "account_id = ? AND extension = '1002'", account.id)).toBe(0);
		const put = await callJson<{ errors: Record<string, string[]> }>("/api/pbx/extensions/1001", {
			method: "PUT",
			token: account.token,
			body: { name: "Front desk", caller_id: "02838999999" },
		});
		expect(put.status).toBe(422);
		expect(Object.keys(put.body.errors)).toEqual(["caller_id"]);
		expect(
			(await callJson<{ caller_id: string | null }>("/api/pbx/extensions/1001", { token: account.token })).body.caller_id,
		).toBeNull();

		await callJson("/api/pbx/caller-ids", { token: account.token, body: { number: "02838123457", label: "HQ" } });
		const owned = await callJson<{ caller_id: string }>("/api/pbx/extensions/1001", {
			method: "PUT",
			token: account.token,
			body: { name: "Front desk", caller_id: "028 3812 3457" },
		});
		expect(owned.status).toBe(200);
		expect(owned.body.caller_id).toBe("+842838123457");
	});

	it("caller ids and queues", async () => {
		const account = await pbxAccount();
		const callerId = await callJson<{ id: string; number: string }>("/api/pbx/caller-ids", {
			token: account.token,
			body: { number: "028 3812 3458", label: "HQ" },
		});
		expect(callerId.body.number).toBe("+842838123458");
		expect(
			(await call("/api/pbx/caller-ids", { token: account.token, body: { number: "+842838123458", label: "again" } })).status,
		).toBe(409);
		const withCallerId = await call("/api/pbx/calls/click-to-call", {
			token: account.token,
			body: { from_extension: "1001", to_phone: "0987654321", caller_id: "02838123458" },
		});
		expect(withCallerId.status).toBe(201);
		const queue = await callJson("/api/pbx/queues", { token: account.token, body: { name: "Support", extensions: ["1001"] } });
		expect(queue.status).toBe(201);
		const badQueue = await callJson("/api/pbx/queues", { token: account.token, body: { name: "Ghosts", extensions: ["7777"] } });
		expect(badQueue.status).toBe(422);
		expect((await call(`/api/pbx/caller-ids/${callerId.body.id}`, { method: "DELETE", token: account.token })).status).toBe(204);
	});
});
