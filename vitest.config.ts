import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

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
				},
				// Tests drive the webhook consumer themselves (createMessageBatch), with a stubbed fetch and a clock.
				queueConsumers: {},
			},
		})),
	],
	test: {
		include: ["test/**/*.test.ts"],
		setupFiles: ["./test/setup/apply-migrations.ts"],
		testTimeout: 30_000,
		// The JSON report lets .ci/run print a plain "N passed, N failed" closing line.
		reporters: ["default", ["json", { outputFile: ".test-results/vitest.json" }]],
	},
});
