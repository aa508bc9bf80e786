import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { dialerFor } from "../workers/dialer/dialer";
import { verifyProviderSignature } from "../workers/lib/signatures";
import { outboundCall } from "./support/outbound-call";

afterEach(() => {
	vi.restoreAllMocks();
});

describe("the http dialer provider", () => {
	it("posts each call to DIALER_URL, signed with DIALER_SECRET", async () => {
		const sent: Request[] = [];
		vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
			sent.push(new Request(input, init));
			return new Response(null, { status: 202 });
		});
		const dialer = dialerFor({
			...env,
			DIALER_PROVIDER: "http",
			DIALER_URL: "https://dialer.example/calls",
			DIALER_SECRET: "s3cret",
		});
		const callId = crypto.randomUUID();
		await dialer.place(outboundCall({ callId, to: "+84987654321" }));
		expect(sent).toHaveLength(1);
		const request = sent[0] as Request;
		expect(request.url).toBe("https://dialer.example/calls");
		const body = await request.text();
		expect(JSON.parse(body)).toMatchObject({ call_id: callId, to: "+84987654321", callback_path: "/api/webhooks/dialer" });
		expect(await verifyProviderSignature("s3cret", body, request.headers.get("X-Callgate-Signature"))).toBe(true);
		expect(await verifyProviderSignature("other", body, request.headers.get("X-Callgate-Signature"))).toBe(false);
	});

	it("a refusal is a classified result, not an error: 5xx is transient with its Retry-After, other 4xx permanent", async () => {
		vi.spyOn(globalThis, "fetch")
			.mockResolvedValueOnce(new Response("down for maintenance", { status: 503, headers: { "Retry-After": "7" } }))
			.mockResolvedValueOnce(Response.json({ message: "Invalid number" }, { status: 400 }))
			.mockRejectedValueOnce(new TypeError("fetch failed"));
		const dialer = dialerFor({
			...env,
			DIALER_PROVIDER: "http",
			DIALER_URL: "https://dialer.example/calls",
			DIALER_SECRET: "s3cret",
		});
		const place = () => dialer.place(outboundCall({ to: "+84987654321" }));
		expect(await place()).toEqual({ kind: "transient", reason: "HTTP 503: down for maintenance", retryAfterMs: 7000 });
		expect(await place()).toEqual({ kind: "permanent", reason: "HTTP 400: Invalid number" });
		expect(await place()).toEqual({ kind: "transient", reason: "The provider could not be reached.", uncertain: true });
	});

	it("signatures outside the 5-minute tolerance are refused", async () => {
		const { signProviderPayload } = await import("../workers/lib/signatures");
		const old = await signProviderPayload("s3cret", "{}", Date.now() - 6 * 60_000);
		expect(await verifyProviderSignature("s3cret", "{}", old)).toBe(false);
		expect(await verifyProviderSignature("s3cret", "{}", "garbage")).toBe(false);
	});
});
