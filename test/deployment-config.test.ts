import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { deploymentProblems } from "../workers/config/deployment";
import { dialerFor } from "../workers/dialer/dialer";
import worker from "../workers/index";
import { smsSenderFor } from "../workers/sms/sender";
import { outboundCall } from "./support/outbound-call";

afterEach(() => {
	vi.restoreAllMocks();
});

/** A production deployment as `wrangler.toml [env.production]` makes it, with what a test gives or takes. */
const production = (settings: Partial<Record<keyof Env, string | undefined>>): Env =>
	({
		...env,
		ENVIRONMENT: "production",
		DIALER_PROVIDER: "twilio",
		SMS_PROVIDER: "twilio",
		PUBLIC_BASE_URL: "https://api.callgate.example",
		TWILIO_ACCOUNT_SID: "AC00000000000000000000000000000001",
		TWILIO_AUTH_TOKEN: "a-real-looking-token",
		TWILIO_API_BASE: "https://api.twilio.com",
		...settings,
	}) as Env;

describe("a deployment checks its providers' settings before it serves", () => {
	it("a complete configuration has no problems, locally and in production", () => {
		expect(deploymentProblems(env)).toEqual([]);
		expect(deploymentProblems(production({}))).toEqual([]);
		expect(
			deploymentProblems(
				production({
					DIALER_PROVIDER: "telnyx",
					SMS_PROVIDER: "telnyx",
					TELNYX_API_KEY: "KEY123",
					TELNYX_CONNECTION_ID: "1494404757140276705",
					TELNYX_PUBLIC_KEY: env.TELNYX_PUBLIC_KEY,
					TELNYX_API_BASE: "https://api.telnyx.com",
				}),
			),
		).toEqual([]);
	});

	it("names each missing or empty setting, with how to set it", () => {
		expect(deploymentProblems(production({ TWILIO_AUTH_TOKEN: undefined }))).toEqual([
			"TWILIO_AUTH_TOKEN is not set (DIALER_PROVIDER=twilio): wrangler secret put TWILIO_AUTH_TOKEN.",
		]);
		// An empty string is as missing as an absent one: nothing is ever signed with an empty key.
		expect(deploymentProblems(production({ TWILIO_AUTH_TOKEN: "  " }))).toHaveLength(1);
		const noTelnyx = { TELNYX_API_KEY: undefined, TELNYX_CONNECTION_ID: "", TELNYX_PUBLIC_KEY: undefined };
		expect(deploymentProblems(production({ DIALER_PROVIDER: "telnyx", SMS_PROVIDER: "simulated", ...noTelnyx }))).toEqual([
			"TELNYX_API_KEY is not set (DIALER_PROVIDER=telnyx): wrangler secret put TELNYX_API_KEY.",
			"TELNYX_CONNECTION_ID is not set (DIALER_PROVIDER=telnyx): set TELNYX_CONNECTION_ID in wrangler.toml [vars] or with --var.",
			"TELNYX_PUBLIC_KEY is not set (DIALER_PROVIDER=telnyx): set TELNYX_PUBLIC_KEY in wrangler.toml [vars] or with --var.",
		]);
		expect(
			deploymentProblems(
				production({
					DIALER_PROVIDER: "http",
					SMS_PROVIDER: "simulated",
					DIALER_URL: "https://dialer.example/calls",
					DIALER_SECRET: "",
				}),
			),
		).toEqual(["DIALER_SECRET is not set (DIALER_PROVIDER=http): wrangler secret put DIALER_SECRET."]);
	});

	it("refuses unknown providers, non-https public URLs in production and a malformed Telnyx key", () => {
		expect(deploymentProblems(production({ DIALER_PROVIDER: "twillio" }))).toContain(
			'DIALER_PROVIDER "twillio" is not one of simulated, http, twilio, telnyx.',
		);
		expect(deploymentProblems(production({ SMS_PROVIDER: "http" }))).toContain(
			'SMS_PROVIDER "http" is not one of simulated, twilio, telnyx.',
		);
		expect(deploymentProblems(production({ PUBLIC_BASE_URL: "http://api.callgate.example" }))).toEqual([
			"PUBLIC_BASE_URL must be an https URL in production.",
		]);
		expect(deploymentProblems(production({ PUBLIC_BASE_URL: "callgate.example" }))).toEqual([
			"PUBLIC_BASE_URL is not an absolute URL.",
		]);
		expect(
			deploymentProblems(
				production({
					DIALER_PROVIDER: "telnyx",
					SMS_PROVIDER: "simulated",
					TELNYX_API_KEY: "KEY123",
					TELNYX_CONNECTION_ID: "1",
					TELNYX_PUBLIC_KEY: "bm90IGEga2V5",
				}),
			),
		).toEqual(["TELNYX_PUBLIC_KEY is not a base64 Ed25519 public key (32 bytes), as the Telnyx portal shows it."]);
	});

	it("DIALER_PROVIDER=twilio without TWILIO_AUTH_TOKEN answers every request 503 naming the secret, and the cron does nothing", async () => {
		const broken = production({ TWILIO_AUTH_TOKEN: undefined });
		const errors = vi.spyOn(console, "error").mockImplementation(() => {});
		for (const path of ["/health", "/api/auth/me", "/api/webhooks/twilio/voice"]) {
			const response = await worker.fetch(new Request(`https://api.callgate.example${path}`), broken, createExecutionContext());
			expect(response.status).toBe(503);
			expect(response.headers.get("Retry-After")).toBe("60");
			expect(await response.json()).toEqual({
				message:
					"callgate is not configured to serve: TWILIO_AUTH_TOKEN is not set (DIALER_PROVIDER=twilio): wrangler secret put TWILIO_AUTH_TOKEN.",
			});
		}
		const logs = vi.spyOn(console, "log");
		const ctx = createExecutionContext();
		await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), broken, ctx);
		await waitOnExecutionContext(ctx);
		// No job ran (each reports on console.log when it does).
		expect(logs).not.toHaveBeenCalled();
		// Said once per isolate, never with a secret's value in it.
		for (const [message] of errors.mock.calls) expect(String(message)).not.toContain("a-real-looking-token");
	});

	it("an object whose alarm fires on a broken configuration refuses dials and sends transiently: nothing is placed, nothing is lost", async () => {
		const fetched = vi.spyOn(globalThis, "fetch");
		const broken = production({ TWILIO_AUTH_TOKEN: "" });
		expect(await dialerFor(broken).place(outboundCall())).toEqual({
			kind: "transient",
			reason:
				"The dialer is not configured: TWILIO_AUTH_TOKEN is not set (DIALER_PROVIDER=twilio): wrangler secret put TWILIO_AUTH_TOKEN.",
		});
		const sent = await smsSenderFor(broken).send({
			messageId: crypto.randomUUID(),
			accountId: "a",
			to: "+14155550100",
			from: "+14155550199",
			text: "hi",
			firstAskedAt: null,
		});
		expect(sent.kind).toBe("transient");
		expect(fetched).not.toHaveBeenCalled();
	});
});
