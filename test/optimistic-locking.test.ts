import { describe, expect, it } from "vitest";
import { burst, call, callJson, pbxAccount } from "./helpers";

describe("ETag / If-Match", () => {
	it("GET sends an ETag; If-None-Match with it answers 304", async () => {
		const account = await pbxAccount();
		const first = await call("/api/pbx/extensions/1001", { token: account.token });
		const etag = first.headers.get("ETag");
		expect(etag).toMatch(/^"v\d+"$/);
		const again = await call("/api/pbx/extensions/1001", { token: account.token, headers: { "If-None-Match": etag ?? "" } });
		expect(again.status).toBe(304);
		expect(await again.text()).toBe("");
	});

	it("concurrent PUTs with the same If-Match: exactly one wins, the rest get 412, nothing half-written", async () => {
		const account = await pbxAccount();
		const etag = (await call("/api/pbx/extensions/1001", { token: account.token })).headers.get("ETag") ?? "";
		const responses = await burst(30, (i) =>
			call("/api/pbx/extensions/1001", {
				method: "PUT",
				token: account.token,
				headers: { "If-Match": etag },
				body: { name: `Writer ${i}`, enabled: i % 2 === 0 },
			}),
		);
		const statuses = responses.map((r) => r.status);
		expect(statuses.filter((s) => s === 200)).toHaveLength(1);
		expect(statuses.filter((s) => s === 412)).toHaveLength(29);
		const refused = responses.find((r) => r.status === 412);
		expect(await refused?.json()).toEqual({ message: "Resource has changed, please GET again." });
		const winner = responses.findIndex((r) => r.status === 200);
		const now = await callJson<{ name: string; enabled: boolean; version: number }>("/api/pbx/extensions/1001", {
			token: account.token,
		});
		expect(now.body).toMatchObject({ name: `Writer ${winner}`, enabled: winner % 2 === 0, version: 2 });
		expect(now.response.headers.get("ETag")).toBe('"v2"');
	});

	it("a stale, foreign or malformed If-Match is a 412; * and no If-Match proceed", async () => {
		const account = await pbxAccount();
		const put = (headers: Record<string, string>, name: string) =>
			call("/api/pbx/extensions/1001", { method: "PUT", token: account.token, headers, body: { name } });
		expect((await put({ "If-Match": '"v1"' }, "a")).status).toBe(200);
		expect((await put({ "If-Match": '"v1"' }, "b")).status).toBe(412);
		expect((await put({ "If-Match": '"abc"' }, "c")).status).toBe(412);
		// If-Match compares strongly (RFC 9110 §13.1.1): a weak tag never matches.
		expect((await put({ "If-Match": 'W/"v2"' }, "d")).status).toBe(412);
		expect((await put({ "If-Match": '"v9", "v2"' }, "d")).status).toBe(200);
		expect((await put({ "If-Match": "*" }, "e")).status).toBe(200);
		expect((await put({}, "f")).status).toBe(200);
		const got = await callJson<{ name: string; version: number }>("/api/pbx/extensions/1001", { token: account.token });
		expect(got.body).toMatchObject({ name: "f", version: 5 });
	});

	it("telesales campaigns and leads honour If-Match on PATCH", async () => {
		const account = await pbxAccount();
		const campaign = await callJson<{ id: string }>("/api/telesales/campaigns", { token: account.token, body: { name: "Q1" } });
		const etag = campaign.response.headers.get("ETag") ?? "";
		const patches = await burst(10, (i) =>
			call(`/api/telesales/campaigns/${campaign.body.id}`, {
				method: "PATCH",
				token: account.token,
				headers: { "If-Match": etag },
				body: { name: `Q1 v${i}` },
			}),
		);
		expect(patches.filter((r) => r.status === 200)).toHaveLength(1);
		expect(patches.filter((r) => r.status === 412)).toHaveLength(9);

		const lead = await callJson<{ id: string }>(`/api/telesales/campaigns/${campaign.body.id}/leads`, {
			token: account.token,
			body: { phone: "0987111222" },
		});
		const leadTag = lead.response.headers.get("ETag") ?? "";
		expect(
			(
				await call(`/api/telesales/leads/${lead.body.id}`, {
					method: "PATCH",
					token: account.token,
					headers: { "If-Match": leadTag },
					body: { status: "contacted" },
				})
			).status,
		).toBe(200);
		expect(
			(
				await call(`/api/telesales/leads/${lead.body.id}`, {
					method: "PATCH",
					token: account.token,
					headers: { "If-Match": leadTag },
					body: { status: "won" },
				})
			).status,
		).toBe(412);
	});

	it("slow-changing lists send Cache-Control and an ETag that changes with the content", async () => {
		const account = await pbxAccount();
		for (const path of ["/api/pbx/users", "/api/pbx/caller-ids", "/api/pbx/queues"]) {
			const first = await call(path, { token: account.token });
			expect(first.headers.get("Cache-Control"), path).toContain("max-age=");
			const etag = first.headers.get("ETag") ?? "";
			expect((await call(path, { token: account.token, headers: { "If-None-Match": etag } })).status).toBe(304);
		}
		const before = (await call("/api/pbx/caller-ids", { token: account.token })).headers.get("ETag");
		await call("/api/pbx/caller-ids", { token: account.token, body: { number: "02838123456", label: "HQ" } });
		const after = await call("/api/pbx/caller-ids", { token: account.token, headers: { "If-None-Match": before ?? "" } });
		expect(after.status).toBe(200);
		expect(after.headers.get("ETag")).not.toBe(before);
	});
});
