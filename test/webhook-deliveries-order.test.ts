import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { callJson, pbxAccount } from "./helpers";

interface DeliveryPage {
	data: { id: string; event_id: string; created_at: string }[];
	next_cursor: string | null;
}

/** An endpoint with `count` deliveries (one SMS event each), the last two sharing a created_at (keyset ties). */
async function endpointWithDeliveries(count: number) {
	const account = await pbxAccount();
	const endpoint = await callJson<{ id: string }>("/api/webhooks/endpoints", {
		token: account.token,
		body: { url: "https://receiver.example/hooks", events: ["sms.sent"] },
	});
	expect(endpoint.status).toBe(201);
	for (let i = 0; i < count; i++) {
		const sms = await callJson("/api/integrations/sms", { token: account.token, body: { to: "0987654321", text: `n${i}` } });
		expect(sms.status).toBe(201);
	}
	const { results } = await env.DB.prepare(
		"SELECT id, created_at FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY created_at, id",
	)
		.bind(endpoint.body.id)
		.all<{ id: string; created_at: string }>();
	expect(results).toHaveLength(count);
	const [before, last] = results.slice(-2);
	if (before && last) {
		await env.DB.prepare("UPDATE webhook_deliveries SET created_at = ? WHERE id = ?").bind(last.created_at, before.id).run();
	}
	return { token: account.token, endpointId: endpoint.body.id };
}

/** Every page of the log, following next_cursor, at `limit` a page. */
async function readAll(token: string, endpointId: string, query: string) {
	const ids: string[] = [];
	let cursor: string | null = null;
	let pages = 0;
	do {
		const url: string = `/api/webhooks/endpoints/${endpointId}/deliveries?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
		const page = await callJson<DeliveryPage>(url, { token });
		expect(page.status).toBe(200);
		ids.push(...page.body.data.map((row) => row.id));
		cursor = page.body.next_cursor;
		pages++;
	} while (cursor && pages < 20);
	return { ids, pages };
}

describe("GET /api/webhooks/endpoints/{id}/deliveries?order=desc", () => {
	it("pages newest first, every delivery once (ties included), the exact reverse of the default order", async () => {
		const { token, endpointId } = await endpointWithDeliveries(7);
		const oldestFirst = await readAll(token, endpointId, "limit=2");
		const newestFirst = await readAll(token, endpointId, "limit=2&order=desc");
		expect(oldestFirst.ids).toHaveLength(7);
		expect(new Set(newestFirst.ids).size).toBe(7);
		expect(newestFirst.ids).toEqual([...oldestFirst.ids].reverse());
		expect(newestFirst.pages).toBe(4);
		// `order=asc` is the default spelled out.
		expect((await readAll(token, endpointId, "limit=2&order=asc")).ids).toEqual(oldestFirst.ids);
	});

	it("the first page of one is the newest delivery", async () => {
		const { token, endpointId } = await endpointWithDeliveries(3);
		const { rows } = await env.DB.prepare(
			"SELECT id FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY created_at DESC, id DESC LIMIT 1",
		)
			.bind(endpointId)
			.all<{ id: string }>()
			.then((result) => ({ rows: result.results }));
		const page = await callJson<DeliveryPage>(`/api/webhooks/endpoints/${endpointId}/deliveries?limit=1&order=desc`, { token });
		expect(page.body.data.map((row) => row.id)).toEqual(rows.map((row) => row.id));
		expect(page.body.next_cursor).not.toBeNull();
	});

	it("a cursor continues only the order it was made for (400); an unknown order is a validation error (422)", async () => {
		const { token, endpointId } = await endpointWithDeliveries(3);
		const base = `/api/webhooks/endpoints/${endpointId}/deliveries?limit=1`;
		const desc = await callJson<DeliveryPage>(`${base}&order=desc`, { token });
		const asc = await callJson<DeliveryPage>(base, { token });
		const descCursor = encodeURIComponent(desc.body.next_cursor ?? "");
		const ascCursor = encodeURIComponent(asc.body.next_cursor ?? "");
		for (const [url, status] of [
			[`${base}&cursor=${descCursor}`, 400],
			[`${base}&order=desc&cursor=${ascCursor}`, 400],
			[`${base}&order=newest`, 422],
		] as const) {
			const refused = await callJson<{ message: string }>(url, { token });
			expect(refused.status, url).toBe(status);
			expect(refused.body.message, url).toEqual(expect.any(String));
		}
	});

	it("another account's endpoint is a 404 in either order", async () => {
		const { endpointId } = await endpointWithDeliveries(1);
		const intruder = await pbxAccount();
		const answer = await callJson(`/api/webhooks/endpoints/${endpointId}/deliveries?order=desc`, { token: intruder.token });
		expect(answer.status).toBe(404);
	});
});

describe("GET /api/pbx/calls?order=desc", () => {
	it("lists the account's calls newest first, the reverse of the default", async () => {
		const account = await pbxAccount();
		for (let i = 0; i < 3; i++) {
			const placed = await callJson("/api/pbx/calls/click-to-call", {
				token: account.token,
				headers: { "Idempotency-Key": crypto.randomUUID() },
				body: { from_extension: "1001", to_phone: `098765432${i}` },
			});
			expect(placed.status).toBe(201);
		}
		const asc = await callJson<DeliveryPage>("/api/pbx/calls?limit=10", { token: account.token });
		const desc = await callJson<DeliveryPage>("/api/pbx/calls?limit=10&order=desc", { token: account.token });
		expect(asc.body.data).toHaveLength(3);
		expect(desc.body.data.map((row) => row.id)).toEqual(asc.body.data.map((row) => row.id).reverse());
	});
});
