/** Endpoint groups, each with its own per-token bucket (SPEC "Rate limits"). */
export const RATE_LIMIT_GROUPS = {
	"click-to-call": 10,
	pbx: 60,
	telesales: 120,
	autocall: 120,
	"auth-login": 5,
	auth: 30,
	integrations: 60,
	webhooks: 60,
	admin: 30,
	// Not in the spec's table: an account's own settings (`/api/account`) change rarely, so the
	// auth and admin groups' 30 is plenty, and they need a bucket of their own so that a CRM
	// polling them cannot starve its pbx or auth budget.
	account: 30,
	// Not in the spec's table either: the do-not-call list, synced by CRMs in bulk and looked up
	// number by number, gets the telesales group's budget and a bucket of its own.
	compliance: 120,
} as const;

export type RateLimitGroup = keyof typeof RATE_LIMIT_GROUPS;
export type RateLimitOverrides = Partial<Record<RateLimitGroup, number>>;

export const RATE_LIMIT_WINDOW_MS = 60_000;

const PREFIXES: [prefix: string, group: RateLimitGroup][] = [
	["/api/pbx/", "pbx"],
	["/api/telesales/", "telesales"],
	["/api/autocall/", "autocall"],
	["/api/public/v1/", "autocall"],
	["/api/auth/", "auth"],
	["/api/integrations/", "integrations"],
	["/api/webhooks/", "webhooks"],
	["/api/admin/", "admin"],
	["/api/compliance/", "compliance"],
];

/**
 * The group of a route, from its declared method and itty-router pattern (never from a
 * request's path): every spelling the router accepts for a route then shares one bucket.
 * Called once per route when the route table is built.
 */
export function rateLimitGroupFor(method: string, pattern: string): RateLimitGroup | undefined {
	if (method === "POST" && pattern === "/api/pbx/calls/click-to-call") return "click-to-call";
	if (pattern === "/api/auth/login") return "auth-login";
	// Exactly `/api/account` and below it: a prefix match would also take `/api/accounts…`.
	if (pattern === "/api/account" || pattern.startsWith("/api/account/")) return "account";
	return PREFIXES.find(([prefix]) => pattern.startsWith(prefix))?.[1];
}

export function limitFor(group: RateLimitGroup, overrides: RateLimitOverrides): number {
	return overrides[group] ?? RATE_LIMIT_GROUPS[group];
}
