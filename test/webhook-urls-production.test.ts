import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../workers/index";
import { attemptDelivery } from "../workers/webhooks/delivery";
import { BASE, burst, call, callJson, countRows, pbxAccount } from "./helpers";

afterEach(() => {
	vi.restoreAllMocks();
});

/** The Worker as deployed with ENVIRONMENT=production (tests otherwise run as development). */
async function asProduction(path: string, token: string, body: unknown) {
	const ctx = createExecutionContext();
	const response = await worker.fetch(
		new Request(`${BASE}${path}`, {
			method: "POST",
			headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
			body: JSON.stringify(body),
		}),
		{ ...env, ENVIRONMENT: "production" },
		ctx,
	);
	await waitOnExecutionContext(ctx);
	return { status: response.status, body: (await response.json()) as { errors?: Record<string, string[]> } };
}

describe("webhook endpoints in production", () => {
	it("take https host names on the default port only: IP literals, local and private names are 422 on url", async () => {
		const account = await pbxAccount();
		for (const url of [
			"https://10.0.0.7/hooks",
			"https://[::1]/hooks",
			"https://localhost/hooks",
			"https://db.internal/hooks",
			"https://printer.local/hooks",
			"https://crm.example:8443/hooks",
			"http://crm.example/hooks",
			"http://127.0.0.1:8799/hook",
		]) {
			const refused = await asProduction("/api/webhooks/endpoints", account.token, { url, events: ["*"] });
			expect(refused.status, url).toBe(422);
			expect(Object.keys(refused.body.errors ?? {}), url).toEqual(["url"]);
		}
		expect(await countRows("webhook_endpoints", "account_id = ?", account.id)).toBe(0);
		const accepted = await asProduction("/api/webhooks/endpoints", account.token, {
			url: "https://crm.example/hooks",
			events: ["*"],
		});
		expect(accepted.status).toBe(201);
		// A PATCH is held to the same rules.
		const { id } = accepted.body as unknown as { id: string };
		const ctx = createExecutionContext();
		const patched = await worker.fetch(
			new Request(`${BASE}/api/webhooks/endpoints/${id}`, {
				method: "PATCH",
				headers: { Authorization: `Bearer ${account.token}`, "Content-Type": "application/json" },
				body: JSON.stringify({ url: "https://169.254.169.254/latest" }),
			}),
			{ ...env, ENVIRONMENT: "production" },
			ctx,
		);
		expect(patched.status).toBe(422);
	});

	it("at most 20 per account, also under a concurrent burst of creates", async () => {
		const account = await pbxAccount();
		const responses = await burst(26, (i) =>
			call("/api/webhooks/endpoints", {
				token: account.token,
				body: { url: `https://receiver.example/hooks/${i}`, events: ["*"] },
			}),
		);
		const statuses = responses.map((response) => response.status);
		expect(statuses.filter((status) => status === 201)).toHaveLength(20);
		expect(statuses.filter((status) => status === 409)).toHaveLength(6);
		expect(await countRows("webhook_endpoints", "account_id = ?", account.id)).toBe(20);

		const refused = await callJson<{ message: string }>("/api/webhooks/endpoints", {
			token: account.token,
			body: { url: "https://receiver.example/one-more", events: ["*"] },
		});
		expect(refused.status).toBe(409);
		expect(refused.body.message).toMatch(/20 webhook endpoints/);

		const list = await callJson<{ data: { id: string }[] }>("/api/webhooks/endpoints?limit=1", { token: account.token });
		await call(`/api/webhooks/endpoints/${list.body.data[0]?.id}`, { method: "DELETE", token: account.token });
		const again = await call("/api/webhooks/endpoints", {
			token: account.token,
			body: { url: "https://receiver.example/one-more", events: ["*"] },
		});
		expect(again.status).toBe(201);
		// Another account has its own 20.
		const other = await pbxAccount();
		expect(
			(await call("/api/webhooks/endpoints", { token: other.token, body: { url: "https://receiver.example/", events: ["*"] } }))
				.status,
		).toBe(201);
	});
});

describe("the delivery log", () => {
	it("records status and timing, and for a failed connection or a timeout a fixed word, not the receiver's error text", async () => {
		const account = await pbxAccount();
		const hook = await callJson<{ id: string }>("/api/webhooks/endpoints", {
			token: account.token,
			body: { url: "https://receiver.example/hooks", events: ["sms.sent"] },
		});
		const sms = await callJson("/api/integrations/sms", { token: account.token, body: { to: "0987654321", text: "Hi" } });
		expect(sms.status).toBe(201);
		const delivery = await env.DB.prepare("SELECT id FROM webhook_deliveries WHERE endpoint_id = ?")
			.bind(hook.body.id)
			.first<{ id: string }>();
		if (!delivery) throw new Error("no delivery");

		const failures = [
			new TypeError("connect ECONNREFUSED 10.20.30.40:443 (db-7.corp.internal)"),
			new DOMException("The operation was aborted due to timeout after 10000 ms to 10.20.30.40", "TimeoutError"),
			new Error("Network connection lost: TLS handshake with backend-db.corp.internal failed"),
			new RangeError("internal receiver detail 10.20.30.40"),
		];
		vi.spyOn(globalThis, "fetch").mockImplementation(async () => {
			const failure = failures.shift();
			if (failure) throw failure;
			return new Response("stack trace of the receiver", { status: 500 });
		});
		let now = Date.now();
		for (let attempt = 0; attempt < 5; attempt++) {
			await attemptDelivery(env, delivery.id, now, 0.5);
			now += 24 * 60 * 60 * 1000;
		}
		const log = await callJson<{
			data: { attempts: { status_code: number | null; error: string | null; latency_ms: number; attempted_at: string }[] }[];
		}>(`/api/webhooks/endpoints/${hook.body.id}/deliveries`, { token: account.token });
		const attempts = log.body.data[0]?.attempts ?? [];
		expect(attempts.map((attempt) => [attempt.status_code, attempt.error])).toEqual([
			[null, "connection failed"],
			[null, "timeout"],
			[null, "connection failed"],
			[null, "request failed"],
			[500, null],
		]);
		expect(attempts.every((attempt) => attempt.latency_ms >= 0 && attempt.attempted_at)).toBe(true);
		const text = JSON.stringify(log.body);
		for (const secret of ["10.20.30.40", "corp.internal", "ECONNREFUSED", "stack trace"]) expect(text).not.toContain(secret);
	});

	it("attempts stored with free text before are shown with the fixed word", async () => {
		const account = await pbxAccount();
		const hook = await callJson<{ id: string }>("/api/webhooks/endpoints", {
			token: account.token,
			body: { url: "https://receiver.example/hooks", events: ["sms.sent"] },
		});
		await callJson("/api/integrations/sms", { token: account.token, body: { to: "0987654321", text: "Hi" } });
		const delivery = await env.DB.prepare("SELECT id FROM webhook_deliveries WHERE endpoint_id = ?")
			.bind(hook.body.id)
			.first<{ id: string }>();
		await env.DB.prepare(
			"INSERT INTO webhook_attempts (id, delivery_id, attempt, status_code, error, latency_ms, attempted_at) VALUES (?, ?, 1, NULL, ?, 12, ?)",
		)
			.bind(crypto.randomUUID(), delivery?.id, "getaddrinfo ENOTFOUND db.corp.internal", new Date().toISOString())
			.run();
		const log = await callJson<{ data: { attempts: { error: string | null }[] }[] }>(
			`/api/webhooks/endpoints/${hook.body.id}/deliveries`,
			{ token: account.token },
		);
		expect(log.body.data[0]?.attempts.map((attempt) => attempt.error)).toEqual(["request failed"]);
	});
});
