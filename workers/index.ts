import { createApp } from "./app";
import { closeStaleCalls, sweepDueCampaigns } from "./autocall/sweep";
import { purgeExpiredClaims } from "./idempotency/claims";
import { routes } from "./routes";
import { consumeDeliveries, type DeliveryMessage } from "./webhooks/delivery";
import { purgeProviderEvents, requeueStuckDeliveries } from "./webhooks/relay";

export { AccountEvents } from "../durable-objects/account-events";
export { CampaignPacer } from "../durable-objects/campaign-pacer";
export { DialerSimulator } from "../durable-objects/dialer-simulator";
export { IdempotencyRecord } from "../durable-objects/idempotency-record";
export { TokenGuard } from "../durable-objects/token-guard";

const app = createApp(routes);

export default {
	fetch: app,
	/** Every minute: wake campaigns that are due, close calls that outlived their maximum, purge expired claims. */
	async scheduled(controller, env, _ctx) {
		const now = controller.scheduledTime;
		const [sweep, closed, purged] = await Promise.all([
			sweepDueCampaigns(env, now),
			closeStaleCalls(env, now),
			purgeExpiredClaims(env.DB, now),
		]);
		console.log(JSON.stringify({ cron: controller.cron, ...sweep, closed_calls: closed, purged_claims: purged }));
	},
	/** Webhook deliveries. */
	async queue(batch, env) {
		await consumeDeliveries(batch as MessageBatch<DeliveryMessage>, env);
	},
} satisfies ExportedHandler<Env, DeliveryMessage>;
