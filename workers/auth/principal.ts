import type { RateLimitOverrides } from "../guard/rate-limit-groups";

export type Role = "platform_admin" | "owner" | "member";

/** Who is calling: resolved once per request from the bearer token. */
export interface Principal {
	tokenId: string;
	tokenKind: "session" | "api";
	userId: string;
	username: string;
	role: Role;
	accountId: string;
	defaultRegion: string;
	rateLimits: RateLimitOverrides;
	maxConnections: number;
}
