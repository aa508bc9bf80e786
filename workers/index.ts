import { createApp } from "./app";
import { reconcileCampaignCalls } from "./autocall/reconcile";
import { closeStaleCalls, sweepDueCampaigns } from "./autocall/sweep";
import { purgeExpiredClaims } from "./idempotency/claims";
import { handOverQueuedCalls } from "./pbx/dial-backstop";
import { routes } from "./routes";
import { consumeDeliveries, type DeliveryMessage } from "./webhooks/delivery";
import { purgeProviderEvents, requeueStuckDeliveries } from "./webhooks/relay";

export { AccountEvents } from "../durable-objects/account-events";
export { CallDispatcher } from "../durable-objects/call-dispatcher";
export { CampaignPacer } from "../durable-objects/campaign-pacer";
export { DialerSimulator } from "../durable-objects/dialer-simulator";
export { IdempotencyRecord } from "../durable-objects/idempotency-record";
export { TokenGuard } from "../durable-objects/token-guard";

const app = createApp(routes);

export default {
	fetch: app,
	/**
	 * Every minute: wake campaigns that are due, reconcile calls closed in D1 or in their pacer
	 * but not in both, close calls that outlived their maximum, hand
	 * over click-to-calls still queued, re-queue webhook deliveries whose message was lost,
	 * purge expired claims and old event ids.
	 */
	async scheduled(controller, env, _ctx) {
		const now = controller.scheduledTime;
		const [sweep, closedCalls, requeued, claims, providerEvents, dials, reconciled] = await Promise.all([
			sweepDueCampaigns(env, now),
			closeStaleCalls(env, now),
			requeueStuckDeliveries(env, now),
			purgeExpiredClaims(env.DB, now),
			purgeProviderEvents(env, now),
			handOverQueuedCalls(env, now),
			reconcileCampaignCalls(env, now),
		]);
		console.log(
			JSON.stringify({
				cron: controller.cron,
				...sweep,
				closedCalls,
				requeued,
				dials,
				reconciled,
				purged: { claims, providerEvents },
			}),
		);
	},
	/** Webhook deliveries, one message each; the consumer schedules its own retries. */
	async queue(batch, env, _ctx) {
		await consumeDeliveries(batch, env);
	},
} satisfies ExportedHandler<Env, DeliveryMessage>;
