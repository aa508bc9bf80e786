import { accountRoutes } from "./account/routes";
import { adminRoutes } from "./admin/routes";
import { limitRoutes } from "./auth/limits";
import { authRoutes } from "./auth/routes";
import { autocallCampaignRoutes } from "./autocall/campaigns";
import { contactFolderRoutes } from "./autocall/contact-folders";
import { telnyxRoutes } from "./carriers/telnyx/routes";
import { twilioRoutes } from "./carriers/twilio/routes";
import { dncRoutes } from "./compliance/dnc-routes";
import { contactPolicyRoutes } from "./compliance/policy-routes";
import { dialerRoutes } from "./dialer/routes";
import { eventRoutes } from "./events/routes";
import { healthRoutes } from "./health";
import { openApiRoutes } from "./openapi/routes";
import { callerIdRoutes } from "./pbx/caller-ids";
import { callRoutes } from "./pbx/calls";
import { extensionRoutes } from "./pbx/extensions";
import { queueRoutes } from "./pbx/queues";
import { userRoutes } from "./pbx/users";
import type { Route } from "./routing/route";
import { smsRoutes } from "./sms/routes";
import { bulkRoutes } from "./telesales/bulk";
import { campaignRoutes } from "./telesales/campaigns";
import { dispositionRoutes } from "./telesales/dispositions";
import { leadRoutes } from "./telesales/leads";
import { webhookEndpointRoutes } from "./webhooks/endpoints";

/** Every route the API serves; the router and the OpenAPI document are both built from this list. */
export const routes: Route[] = [
	...healthRoutes,
	...openApiRoutes(() => routes),
	...authRoutes,
	...limitRoutes,
	...adminRoutes,
	...accountRoutes,
	...contactPolicyRoutes,
	...eventRoutes,
	...userRoutes,
	...extensionRoutes,
	...callerIdRoutes,
	...queueRoutes,
	...callRoutes,
	...campaignRoutes,
	// Before leadRoutes: `/leads/bulk` must win over `/leads/:id`.
	...bulkRoutes,
	...leadRoutes,
	...dispositionRoutes,
	...dncRoutes,
	...autocallCampaignRoutes("/api/autocall/campaigns"),
	...autocallCampaignRoutes("/api/public/v1/batch-calls"),
	...contactFolderRoutes("/api/autocall/contact-folders"),
	...contactFolderRoutes("/api/public/v1/contact-folders"),
	...dialerRoutes,
	...webhookEndpointRoutes,
	...smsRoutes,
	...twilioRoutes,
	...telnyxRoutes,
];
