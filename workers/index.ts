import { createApp } from "./app";
import { reconcileCampaignCalls } from "./autocall/reconcile";
import { closeStaleCalls, sweepDueCampaigns } from "./autocall/sweep";
import { benchRoutes, benchRoutesEnabled } from "./bench/routes";
import { handOverPendingListings } from "./compliance/dnc-outbox";
import { deploymentProblems, misconfiguredResponse } from "./config/deployment";
import { isConsolePath, serveConsole } from "./console";
import { purgeExpiredClaims } from "./idempotency/claims";
import { handOverQueuedCalls } from "./pbx/dial-backstop";
import { routes } from "./routes";
import { sendQueuedSms } from "./sms/outbox";
import { consumeDeliveries, type DeliveryMessage } from "./webhooks/delivery";
import { purgeProviderEvents, requeueStuckDeliveries } from "./webhooks/relay";

export { AccountEvents } from "../durable-objects/account-events";
export { BenchFloor } from "../durable-objects/bench-floor";
export { CallDispatcher } from "../durable-objects/call-dispatcher";
export { CampaignPacer } from "../durable-objects/campaign-pacer";
export { ContactLedger } from "../durable-objects/contact-ledger";
export { DialerSimulator } from "../durable-objects/dialer-simulator";
export { IdempotencyStore } from "../durable-objects/idempotency-store";
export { TokenGuard } from "../durable-objects/token-guard";

const app = createApp(routes);
/** The benchmark's server (`BENCH_ROUTES`) also gets `/__bench/*`, which `routes` and so /openapi.json never list. */
let benchApp: typeof app | undefined;
function appFor(env: Env) {
	if (!benchRoutesEnabled(env)) return app;
	benchApp ??= createApp([...benchRoutes, ...routes]);
	return benchApp;
}

/**
 * The minute cron's jobs: wake due campaigns (and re-apply configs a PATCH could not hand
 * over), reconcile calls closed in D1 or in their pacer but not in both, close click-to-calls
 * that outlived their maximum, hand over click-to-calls still queued, send SMS still queued for a carrier, re-queue webhook
 * deliveries whose message was lost, list do-not-call dispositions whose hand-over failed, purge expired claims and old
 * provider event ids.
 */
const cronJobs = (env: Env, now: number) => ({
	sweep: () => sweepDueCampaigns(env, now),
	reconciled: () => reconcileCampaignCalls(env, now),
	closedCalls: () => closeStaleCalls(env, now),
	dials: () => handOverQueuedCalls(env, now),
	sms: () => sendQueuedSms(env, now),
	requeued: () => requeueStuckDeliveries(env, now),
	doNotCall: () => handOverPendingListings(env),
	purgedClaims: () => purgeExpiredClaims(env.DB, now),
	purgedProviderEvents: () => purgeProviderEvents(env, now),
});

/** Problems are logged once per isolate: the 503 already tells each caller. */
let reported = false;
function refuseToServe(env: Env): string[] {
	const problems = deploymentProblems(env);
	if (problems.length && !reported) {
		reported = true;
		console.error(`callgate is not configured to serve: ${problems.join(" ")}`);
	}
	return problems;
}

export default {
	/**
	 * A deployment missing a setting its providers need answers 503 naming it, and does nothing
	 * else; the console, static, is served still, and shows that answer to whoever signs in.
	 */
	fetch(request: Request, env: Env, ctx: ExecutionContext) {
		if (isConsolePath(new URL(request.url).pathname)) return serveConsole(request, env);
		const problems = refuseToServe(env);
		return problems.length ? misconfiguredResponse(problems) : appFor(env)(request, env, ctx);
	},
	/** Each job runs on its own: one that fails (its D1 query, say) neither stops nor hides the others. */
	async scheduled(controller, env, _ctx) {
		// Nothing dials or sends on a configuration that cannot.
		if (refuseToServe(env).length) return;
		const jobs = Object.entries(cronJobs(env, controller.scheduledTime));
		const outcomes = await Promise.allSettled(jobs.map(([, run]) => run()));
		const report: Record<string, unknown> = { cron: controller.cron };
		outcomes.forEach((outcome, index) => {
			const name = jobs[index]?.[0] ?? String(index);
			if (outcome.status === "fulfilled") report[name] = outcome.value;
			else {
				report[name] = "failed";
				console.error(
					`cron job ${name} failed`,
					outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason),
				);
			}
		});
		console.log(JSON.stringify(report));
	},
	/** Webhook deliveries, one message each; the consumer schedules its own retries. */
	async queue(batch, env, _ctx) {
		await consumeDeliveries(batch, env);
	},
} satisfies ExportedHandler<Env, DeliveryMessage>;
