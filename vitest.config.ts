import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { buildConsole } from "./console/build.mjs";

// The console's static assets (wrangler.toml [assets]), which the Worker serves at /console: a
// fresh clone has none until they are built, and a test of /console needs the real build.
await buildConsole();

export default defineConfig({
	plugins: [
		cloudflareTest(async () => ({
			wrangler: { configPath: "./wrangler.toml" },
			miniflare: {
				bindings: {
					TEST_MIGRATIONS: await readD1Migrations("./migrations"),
					// Password hashing is exercised at full strength in its own test; elsewhere it only slows the suite.
					PASSWORD_HASH_ITERATIONS: "1000",
					BOOTSTRAP_ADMIN_PASSWORD: "admin-password",
					// Carrier credentials for the carrier tests, which point the adapters at in-test stand-ins
					// (test/support/carriers/). The Telnyx key pair is a test fixture: its private half signs there.
					PUBLIC_BASE_URL: "https://callgate.test",
					TWILIO_ACCOUNT_SID: "AC00000000000000000000000000000001",
					TWILIO_AUTH_TOKEN: "test-twilio-auth-token",
					TWILIO_API_BASE: "https://twilio.standin",
					TELNYX_API_KEY: "KEYtest-telnyx-api-key",
					TELNYX_CONNECTION_ID: "1494404757140276705",
					TELNYX_PUBLIC_KEY: "kjE/9Ed8tLSkGLHJ5NZMIhudyNw4sjf7WxcZnuJMACw=",
					TELNYX_API_BASE: "https://telnyx.standin",
				},
				// Tests drive the webhook consumer themselves (createMessageBatch), with a stubbed fetch and a clock.
				queueConsumers: {},
			},
		})),
	],
	test: {
		testTimeout: 30_000,
		// The JSON report lets .ci/run print a plain "N passed, N failed" closing line.
		reporters: ["default", ["json", { outputFile: ".test-results/vitest.json" }]],
		projects: [
			{
				extends: true,
				test: { name: "worker", include: ["test/*.test.ts"], setupFiles: ["./test/setup/apply-migrations.ts"] },
			},
			{
				// Pure functions: no bindings, no storage, every fake timer and stub undone after each test,
				// so the files share one worker instead of paying a fresh one (and the migrations) each.
				extends: true,
				test: { name: "unit", include: ["test/unit/**/*.test.ts"], isolate: false },
			},
		],
	},
});
