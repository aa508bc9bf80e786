import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { MemoryDedupeStore, signWebhook, timingSafeEqual, verifyWebhook, WebhookDeduper } from "../../sdk/src/webhooks";

const SECRET = `whsec_${btoa("a secret of thirty-two bytes!!!!")}`;
const body = JSON.stringify({ id: "evt_1", type: "sms.sent", created_at: "2030-01-01T00:00:00.000Z", data: { n: 1 } });

/** Headers signed by the reference library, at `seconds`. */
function signed(payload: string, seconds: number, id = "evt_1") {
	const signature = new Webhook(SECRET).sign(id, new Date(seconds * 1000), payload);
	return { "webhook-id": id, "webhook-timestamp": String(seconds), "webhook-signature": signature };
}

describe("verifyWebhook", () => {
	const now = 1_900_000_000;
	const at = () => now * 1000;

	it("accepts what the standardwebhooks library signs, from Headers or Node's header object, and returns the event", async () => {
		const headers = signed(body, now);
		expect(await verifyWebhook(SECRET, body, headers, { now: at })).toMatchObject({ id: "evt_1", type: "sms.sent" });
		expect(await verifyWebhook(SECRET, new TextEncoder().encode(body), new Headers(headers), { now: at })).toMatchObject({
			data: { n: 1 },
		});
		// And the library accepts what it signs: the two agree on the scheme.
		expect(await signWebhook(SECRET, "evt_1", now, body)).toBe(headers["webhook-signature"]);
	});

	it("one matching signature among several (a secret being rotated) is enough", async () => {
		const headers = signed(body, now);
		const other = await signWebhook(`whsec_${btoa("another secret, also 32 bytes!!!")}`, "evt_1", now, body);
		const both = { ...headers, "webhook-signature": `${other} ${headers["webhook-signature"]}` };
		expect(await verifyWebhook(SECRET, body, both, { now: at })).toMatchObject({ id: "evt_1" });
	});

	it("refuses a changed body, id or timestamp, another secret, a missing header", async () => {
		const headers = signed(body, now);
		const refusals = [
			verifyWebhook(SECRET, body.replace('"n":1', '"n":2'), headers, { now: at }),
			verifyWebhook(SECRET, body, { ...headers, "webhook-id": "evt_2" }, { now: at }),
			verifyWebhook(SECRET, body, { ...headers, "webhook-timestamp": String(now + 1) }, { now: at }),
			verifyWebhook(`whsec_${btoa("not the secret that signed this!!")}`, body, headers, { now: at }),
			verifyWebhook(SECRET, body, { ...headers, "webhook-signature": "v1,!!!" }, { now: at }),
			verifyWebhook(SECRET, body, { "webhook-id": "evt_1", "webhook-timestamp": String(now) }, { now: at }),
		];
		for (const refusal of refusals) await expect(refusal).rejects.toThrow(/webhook|signature|Missing/i);
	});

	it("refuses timestamps more than the tolerance (5 minutes) from now, either way", async () => {
		await expect(verifyWebhook(SECRET, body, signed(body, now - 301), { now: at })).rejects.toThrow(/300 s/);
		await expect(verifyWebhook(SECRET, body, signed(body, now + 301), { now: at })).rejects.toThrow(/300 s/);
		expect(await verifyWebhook(SECRET, body, signed(body, now - 299), { now: at })).toBeDefined();
		await expect(verifyWebhook(SECRET, body, signed(body, now - 20), { now: at, toleranceSeconds: 10 })).rejects.toThrow();
	});

	it("compares in constant time: equal bytes only", () => {
		expect(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true);
		expect(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false);
		expect(timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false);
	});
});

const DUPLICATE = { status: "duplicate", acknowledge: true };

describe("WebhookDeduper", () => {
	it("runs a webhook-id once; a redelivery is a duplicate", async () => {
		const deduper = new WebhookDeduper();
		let runs = 0;
		expect(await deduper.once("evt_1", () => ++runs)).toEqual({ status: "handled", acknowledge: true, result: 1 });
		expect(await deduper.once("evt_1", () => ++runs)).toEqual(DUPLICATE);
		expect(await deduper.once("evt_2", () => ++runs)).toEqual({ status: "handled", acknowledge: true, result: 2 });
	});

	it("a handler that fails leaves the id unprocessed, so the redelivery runs it", async () => {
		const deduper = new WebhookDeduper();
		await expect(
			deduper.once("evt_1", () => {
				throw new Error("database down");
			}),
		).rejects.toThrow("database down");
		expect(await deduper.once("evt_1", () => "done")).toEqual({ status: "handled", acknowledge: true, result: "done" });
	});

	it("concurrent deliveries of one id: one runs, the others are in progress (not acknowledged)", async () => {
		const deduper = new WebhookDeduper();
		let runs = 0;
		const results = await Promise.all(Array.from({ length: 10 }, () => deduper.once("evt_1", async () => ++runs)));
		expect(runs).toBe(1);
		expect(results.filter((result) => result.status === "handled")).toHaveLength(1);
		expect(results.filter((result) => result.status === "in-progress" && !result.acknowledge)).toHaveLength(9);
	});

	it("a redelivery while the first is still handled is not acknowledged; the first failing, the next redelivery runs it", async () => {
		const deduper = new WebhookDeduper();
		let finishFirst: () => void = () => undefined;
		const firstRunning = new Promise<void>((resolve) => {
			finishFirst = resolve;
		});
		let handled = 0;
		// Delivery 1: the handler is slow (the server's attempt times out) and then fails.
		const delivery1 = deduper.once("msg_1", async () => {
			await firstRunning;
			throw new Error("CRM down");
		});
		// Delivery 2 (the server's retry) while delivery 1 still runs: answered non-2xx, so the server retries again.
		const delivery2 = await deduper.once("msg_1", () => {
			handled++;
		});
		expect(delivery2).toEqual({ status: "in-progress", acknowledge: false });
		finishFirst();
		await expect(delivery1).rejects.toThrow("CRM down");
		// Delivery 3: the event is handled after all; only then is it done.
		expect(await deduper.once("msg_1", () => ++handled)).toMatchObject({ status: "handled", result: 1 });
		expect(await deduper.once("msg_1", () => ++handled)).toEqual(DUPLICATE);
	});

	it("an in-progress claim whose receiver died lapses after the lease; done lasts the ttl", async () => {
		let now = 0;
		const store = new MemoryDedupeStore({ now: () => now });
		expect(store.claim("evt_1", 1_000)).toBe("claimed");
		now = 999;
		expect(store.claim("evt_1", 1_000)).toBe("in-progress");
		now = 1_000;
		expect(store.claim("evt_1", 1_000)).toBe("claimed");
		store.complete("evt_1", 5_000);
		now = 5_999;
		expect(store.claim("evt_1", 1_000)).toBe("done");
		now = 6_000;
		expect(store.claim("evt_1", 1_000)).toBe("claimed");
	});

	it("the in-memory store forgets after the ttl, and keeps at most maxEntries", async () => {
		let now = 0;
		const store = new MemoryDedupeStore({ now: () => now, maxEntries: 3 });
		const deduper = new WebhookDeduper({ store, ttlMs: 1_000 });
		await deduper.once("evt_1", () => 1);
		now = 999;
		expect(await deduper.once("evt_1", () => 1)).toEqual(DUPLICATE);
		now = 1_000;
		expect(await deduper.once("evt_1", () => 1)).toMatchObject({ status: "handled", result: 1 });
		for (const id of ["a", "b", "c", "d"]) await deduper.once(id, () => 1);
		expect(store.size).toBeLessThanOrEqual(3);
	});

	it("a store of one's own is used (a durable table in production)", async () => {
		const states = new Map<string, "in-progress" | "done">();
		const deduper = new WebhookDeduper({
			store: {
				claim: async (id) => {
					const state = states.get(id);
					if (state) return state;
					states.set(id, "in-progress");
					return "claimed";
				},
				complete: async (id) => {
					states.set(id, "done");
				},
				release: async (id) => {
					states.delete(id);
				},
			},
		});
		await deduper.once("evt_9", () => 1);
		expect(states.get("evt_9")).toBe("done");
		expect(await deduper.once("evt_9", () => 1)).toEqual(DUPLICATE);
	});
});
