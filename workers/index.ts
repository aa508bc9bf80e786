import { createApp } from "./app";
import { routes } from "./routes";

export { AccountEvents } from "../durable-objects/account-events";
export { CampaignPacer } from "../durable-objects/campaign-pacer";
export { DialerSimulator } from "../durable-objects/dialer-simulator";
export { IdempotencyRecord } from "../durable-objects/idempotency-record";
export { TokenGuard } from "../durable-objects/token-guard";

const app = createApp(routes);

export default {
	fetch: app,
	async scheduled(_controller, _env, _ctx) {
		// Campaign sweeps arrive with the campaign engine.
	},
} satisfies ExportedHandler<Env>;
