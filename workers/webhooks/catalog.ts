/** Every event type an endpoint can subscribe to. */
export const EVENT_TYPES = [
	"call.started",
	"call.completed",
	"campaign.activated",
	"campaign.paused",
	"campaign.resumed",
	"campaign.cancelled",
	"campaign.completed",
	"campaign.provider_unavailable",
	"campaign.provider_recovered",
	"contact.skipped",
	"sms.sent",
	"sms.delivered",
	"sms.failed",
] as const;

const PREFIXES = new Set(EVENT_TYPES.map((type) => type.split(".")[0]));

/** A subscription is an exact type, `<prefix>.*`, or `*`. */
export function isValidSubscription(pattern: string): boolean {
	if (pattern === "*") return true;
	if (pattern.endsWith(".*")) return PREFIXES.has(pattern.slice(0, -2));
	return (EVENT_TYPES as readonly string[]).includes(pattern);
}

/** The patterns that select a type: what a subscription list is matched against in SQL. */
export const patternsFor = (type: string) => ["*", type, `${type.split(".")[0]}.*`];
