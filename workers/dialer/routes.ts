import { z } from "zod";
import { readSignedCallback } from "../http/signed-callback";
import { publicRoute, type Route } from "../routing/route";
import { applyProviderEvent, ProviderEvent } from "./provider-events";

/** Signed inbound callbacks carry no token: the signature is the authentication. */
const dialerCallback = publicRoute({
	method: "POST",
	path: "/api/webhooks/dialer",
	summary:
		"Call progress from the dialer provider. Signed with `X-Callgate-Signature: t=<unix>,v1=<hex HMAC-SHA256(DIALER_SECRET, t.body)>`; deduplicated by event_id; out-of-order events never move a call backwards. A 5xx means the event was not applied: deliver it again.",
	tags: ["webhooks"],
	headers: ["X-Callgate-Signature"],
	responses: {
		200: {
			description: "Applied, duplicate or stale",
			schema: z.object({ result: z.enum(["applied", "duplicate", "stale", "unknown-call"]) }),
		},
		401: { description: "Bad or missing signature" },
		500: { description: "Not applied (or its campaign not yet told): redeliver the same event" },
	},
	async handler({ env, request }) {
		const event = await readSignedCallback(request, env.DIALER_SECRET, ProviderEvent);
		return Response.json({ result: await applyProviderEvent(env, event) });
	},
});

export const dialerRoutes: Route[] = [dialerCallback];
