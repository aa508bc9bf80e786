import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type IdempotencyStore, idempotencyStoreName } from "../durable-objects/idempotency-store";
import { DAY } from "../workers/lib/time";
import { burst, call, callJson, countRows, pbxAccount } from "./helpers";

const clickToCall = { from_extension: "1001", to_phone: "0987654321" };

const recordOf = (accountId: string, key: string) =>
	env.IDEMPOTENCY.get(env.IDEMPOTENCY.idFromName(idempotencyStoreName(accountId, key)));

async function shiftClock(accountId: string, key: string, byMs: number) {
	await runInDurableObject(recordOf(accountId, key), (record: IdempotencyStore) => {
		record.clock = () => Date.now() + byMs;
	});
}

describe("Idempotency-Key", () => {
	it("100 concurrent copies of one keyed request create exactly one call, answering only 201 or 409", async () => {
		const account = await pbxAccount();
		const key = crypto.randomUUID();
		const responses = await burst(100, () =>
			call("/api/pbx/calls/click-to-call", { token: account.token, body: clickToCall, headers: { "Idempotency-Key": key } }),
		);
		const statuses = responses.map((r) => r.status);
		expect(statuses.filter((s) => s === 201)).toHaveLength(1);
		expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
		const conflict = responses.find((r) => r.status === 409);
		if (conflict) expect(Number(conflict.headers.get("Retry-After"))).toBeGreaterThan(0);
		expect(await countRows("calls", "account_id = ?", account.id)).toBe(1);
	});

	it("a replay is byte-identical, marked Idempotent-Replayed, and processes nothing", async () => {
		const account = await pbxAccount();
		const key = crypto.randomUUID();
		const send = () =>
			call("/api/pbx/calls/click-to-call", { token: account.token, body: clickToCall, headers: { "X-Idempotency-Key": key } });
		const first = await send();
		const firstBody = await first.text();
		expect(first.status).toBe(201);
		expect(first.headers.get("Idempotent-Replayed")).toBeNull();
		const replays = await burst(5, send);
		for (const replay of replays) {
			expect(replay.status).toBe(201);
			expect(replay.headers.get("Idempotent-Replayed")).toBe("true");
			expect(replay.headers.get("Location")).toBe(first.headers.get("Location"));
			expect(await replay.text()).toBe(firstBody);
		}
		expect(await countRows("calls", "account_id = ?", account.id)).toBe(1);
	});

	it("the same key with a different body or path → 422 with the seed's message", async () => {
		const account = await pbxAccount();
		const key = crypto.randomUUID();
		const headers = { "Idempotency-Key": key };
		await call("/api/pbx/calls/click-to-call", { token: account.token, body: clickToCall, headers });
		const otherBody = await callJson("/api/pbx/calls/click-to-call", {
			token: account.token,
			body: { ...clickToCall, to_phone: "0912345678" },
			headers,
		});
		expect(otherBody.status).toBe(422);
		expect(otherBody.body).toEqual({ message: "Idempotency-Key was used with a different body." });
		const otherPath = await callJson("/api/telesales/campaigns", { token: account.token, body: clickToCall, headers });
		expect(otherPath.status).toBe(422);
		expect(await countRows("calls", "account_id = ?", account.id)).toBe(1);
	});

	it("keys are scoped to the account", async () => {
		const [a, b] = await Promise.all([pbxAccount(), pbxAccount()]);
		const headers = { "Idempotency-Key": crypto.randomUUID() };
		expect((await call("/api/pbx/calls/click-to-call", { token: a.token, body: clickToCall, headers })).status).toBe(201);
		const other = await call("/api/pbx/calls/click-to-call", { token: b.token, body: clickToCall, headers });
		expect(other.status).toBe(201);
		expect(other.headers.get("Idempotent-Replayed")).toBeNull();
	});

	it("a key that is not a UUID v4 → 400, and nothing is created", async () => {
		const account = await pbxAccount();
		for (const key of ["abc", "a1b2c3d4-e5f6-1890-abcd-ef1234567890", "", "22222222-3333-4444-5555-666666666666"]) {
			const { status, body } = await callJson("/api/pbx/calls/click-to-call", {
				token: account.token,
				body: clickToCall,
				headers: { "Idempotency-Key": key },
			});
			expect(status, key).toBe(400);
			expect(body).toHaveProperty("message");
		}
		expect(await countRows("calls", "account_id = ?", account.id)).toBe(0);
	});

	it("endpoints without idempotency ignore the header silently", async () => {
		const account = await pbxAccount();
		const response = await call("/api/pbx/caller-ids", {
			token: account.token,
			body: { number: "02838123456", label: "HQ" },
			headers: { "Idempotency-Key": "not-a-uuid" },
		});
		expect(response.status).toBe(201);
	});

	it("a failed request (4xx that is not final, or 5xx) releases its key so a retry may run", async () => {
		const account = await pbxAccount();
		const headers = { "Idempotency-Key": crypto.randomUUID() };
		const disabled = await callJson("/api/pbx/extensions/1001", {
			method: "PUT",
			token: account.token,
			body: { name: "Off", enabled: false },
		});
		expect(disabled.status).toBe(200);
		const refused = await call("/api/pbx/calls/click-to-call", { token: account.token, body: clickToCall, headers });
		expect(refused.status).toBe(409);
		await call("/api/pbx/extensions/1001", { method: "PUT", token: account.token, body: { name: "On", enabled: true } });
		const retried = await call("/api/pbx/calls/click-to-call", { token: account.token, body: clickToCall, headers });
		expect(retried.status).toBe(201);
		expect(retried.headers.get("Idempotent-Replayed")).toBeNull();
	});

	it("after 24 hours the key expires (and is purged) and the same key creates a new resource", async () => {
		const account = await pbxAccount();
		const key = crypto.randomUUID();
		const send = () =>
			callJson<{ id: string }>("/api/pbx/calls/click-to-call", {
				token: account.token,
				body: clickToCall,
				headers: { "Idempotency-Key": key },
			});
		const first = await send();
		await shiftClock(account.id, key, DAY - 1000);
		expect((await send()).response.headers.get("Idempotent-Replayed")).toBe("true");

		await shiftClock(account.id, key, DAY + 1000);
		expect(await runDurableObjectAlarm(recordOf(account.id, key))).toBe(true);
		expect(await recordOf(account.id, key).stored(key)).toBe(false);

		const second = await send();
		expect(second.status).toBe(201);
		expect(second.response.headers.get("Idempotent-Replayed")).toBeNull();
		expect(second.body.id).not.toBe(first.body.id);
		expect(await countRows("calls", "account_id = ?", account.id)).toBe(2);
	});

	it("a failure to cache the response after the write still answers the write, and a retry creates no duplicate", async () => {
		const account = await pbxAccount();
		const key = crypto.randomUUID();
		const headers = { "Idempotency-Key": key };
		// RPC dispatches to the class's methods, so the fault goes on the prototype, for one call.
		const prototype = await runInDurableObject(
			recordOf(account.id, key),
			(record: IdempotencyStore) => Object.getPrototypeOf(record) as IdempotencyStore,
		);
		const complete = prototype.complete;
		prototype.complete = () => {
			prototype.complete = complete;
			throw new Error("injected: crashed before caching the response");
		};
		const crashed = await callJson<{ id: string }>("/api/pbx/calls/click-to-call", {
			token: account.token,
			body: clickToCall,
			headers,
		});
		expect(prototype.complete).toBe(complete);
		// The call was committed: the client is told so, not handed a 500 for a resource that exists.
		expect(crashed.status).toBe(201);
		expect(await countRows("calls", "account_id = ?", account.id)).toBe(1);

		// Nothing was cached, so the attempt still holds its key until its lock lapses.
		expect((await call("/api/pbx/calls/click-to-call", { token: account.token, body: clickToCall, headers })).status).toBe(409);
		await runInDurableObject(recordOf(account.id, key), (record: IdempotencyStore) => {
			record.clock = () => Date.now() + 31_000;
		});
		const retry = await callJson<{ id: string }>("/api/pbx/calls/click-to-call", {
			token: account.token,
			body: clickToCall,
			headers,
		});
		expect(retry.status).toBe(201);
		expect(retry.body.id).toBe(crashed.body.id);
		expect(await countRows("calls", "account_id = ?", account.id)).toBe(1);
		const replay = await call("/api/pbx/calls/click-to-call", { token: account.token, body: clickToCall, headers });
		expect(replay.headers.get("Idempotent-Replayed")).toBe("true");
	});

	it("a client that got its 201 retries at once: the replay, never a 409, however slowly the response is kept", async () => {
		const account = await pbxAccount();
		const prototype = await runInDurableObject(
			recordOf(account.id, crypto.randomUUID()),
			(record: IdempotencyStore) => Object.getPrototypeOf(record) as IdempotencyStore,
		);
		const complete = prototype.complete;
		// A slow shard: keeping the response takes 300 ms.
		prototype.complete = async function (this: IdempotencyStore, ...args: Parameters<IdempotencyStore["complete"]>) {
			await new Promise((resolve) => setTimeout(resolve, 300));
			return complete.apply(this, args);
		} as unknown as IdempotencyStore["complete"];
		try {
			const headers = { "Idempotency-Key": crypto.randomUUID() };
			const first = await call("/api/pbx/calls/click-to-call", { token: account.token, body: clickToCall, headers });
			expect(first.status).toBe(201);
			const retry = await call("/api/pbx/calls/click-to-call", { token: account.token, body: clickToCall, headers });
			expect(retry.status).toBe(201);
			expect(retry.headers.get("Idempotent-Replayed")).toBe("true");
		} finally {
			prototype.complete = complete;
		}
	});

	it("each lock holder has its own identity: a stale holder can neither release nor overwrite the one that took over", async () => {
		const stored = (body: string) => ({ status: 201, headers: {}, body });
		const key = crypto.randomUUID();
		await runInDurableObject(recordOf(crypto.randomUUID(), key), async (record: IdempotencyStore) => {
			const first = await record.begin(key, "fp", 30_000, DAY);
			if (first.kind !== "proceed") throw new Error(first.kind);
			record.clock = () => Date.now() + 31_000;
			const second = await record.begin(key, "fp", 30_000, DAY);
			if (second.kind !== "proceed") throw new Error(second.kind);
			expect(second.holder).not.toBe(first.holder);
			expect(second.expiresAt).toBe(first.expiresAt);

			expect(record.release(key, first.holder)).toBe(false);
			expect((await record.begin(key, "fp", 30_000, DAY)).kind).toBe("in-flight");
			expect(record.complete(key, first.holder, stored("stale"))).toBe(false);
			expect(record.complete(key, second.holder, stored("current"))).toBe(true);
			expect(await record.begin(key, "fp", 30_000, DAY)).toEqual({ kind: "replay", response: stored("current") });
		});
	});

	it("a released key keeps its body and its life: a retry may run at once, another body is still a 422", async () => {
		const key = crypto.randomUUID();
		await runInDurableObject(recordOf(crypto.randomUUID(), key), async (record: IdempotencyStore) => {
			const first = await record.begin(key, "fp", 30_000, DAY);
			if (first.kind !== "proceed") throw new Error(first.kind);
			expect(record.release(key, first.holder)).toBe(true);
			expect(await record.begin(key, "other", 30_000, DAY)).toEqual({ kind: "mismatch" });
			const retry = await record.begin(key, "fp", 30_000, DAY);
			expect(retry).toMatchObject({ kind: "proceed", expiresAt: first.expiresAt });
		});
	});

	it("keyed creates on every supported telesales route: 100 concurrent copies, one resource", async () => {
		const account = await pbxAccount();
		const campaignKey = crypto.randomUUID();
		const campaigns = await burst(100, () =>
			call("/api/telesales/campaigns", {
				token: account.token,
				body: { name: "Spring" },
				headers: { "Idempotency-Key": campaignKey },
			}),
		);
		expect(campaigns.filter((r) => r.status === 201)).toHaveLength(1);
		expect(await countRows("telesales_campaigns", "account_id = ?", account.id)).toBe(1);
		const winner = campaigns.find((r) => r.status === 201);
		const campaignId = winner ? (await winner.json<{ id: string }>()).id : "";

		const leadKey = crypto.randomUUID();
		const leads = await burst(100, () =>
			call(`/api/telesales/campaigns/${campaignId}/leads`, {
				token: account.token,
				body: { phone: "0987000001" },
				headers: { "Idempotency-Key": leadKey },
			}),
		);
		expect(leads.filter((r) => r.status === 201)).toHaveLength(1);
		expect(leads.every((r) => r.status === 201 || r.status === 409)).toBe(true);

		const importKey = crypto.randomUUID();
		const body = { leads: Array.from({ length: 50 }, (_, i) => ({ phone: `09870${String(i + 100).padStart(5, "0")}` })) };
		const imports = await burst(100, () =>
			call(`/api/telesales/campaigns/${campaignId}/leads/bulk-import`, {
				token: account.token,
				body,
				headers: { "Idempotency-Key": importKey },
			}),
		);
		expect(imports.filter((r) => r.status === 201)).toHaveLength(1);
		expect(await countRows("leads", "campaign_id = ?", campaignId)).toBe(51);
	});
});
