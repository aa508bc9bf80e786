import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, expect, it } from "vitest";
import worker from "../workers/index";
import { countRows, pbxAccount } from "./helpers";
import { failD1, restoreFaults } from "./support/faults";

afterEach(() => restoreFaults());

it("the minute cron runs every job on its own: one whose D1 query fails stops none of the others", async () => {
	const account = await pbxAccount();
	const key = crypto.randomUUID();
	await env.DB.prepare(
		"INSERT INTO idempotency_claims (account_id, idempotency_key, resource_type, resource_id, expires_at) VALUES (?, ?, 'call', ?, ?)",
	)
		.bind(account.id, key, crypto.randomUUID(), new Date(Date.now() - 1000).toISOString())
		.run();
	const sweep = failD1("pacer_version < version");
	const ctx = createExecutionContext();
	await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), env, ctx);
	await waitOnExecutionContext(ctx);
	expect(sweep.failed).toBe(1);
	expect(await countRows("idempotency_claims", "account_id = ? AND idempotency_key = ?", account.id, key)).toBe(0);
});
