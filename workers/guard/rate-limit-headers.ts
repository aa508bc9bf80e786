import type { RateVerdict } from "../../durable-objects/token-guard";

/** The connection cap's policy name in `RateLimit-Policy`. */
export const CONNECTIONS_POLICY = "connections";

/**
 * X-RateLimit-* (the seed's contract) and the IETF RateLimit-Policy / RateLimit fields.
 * With `maxConnections` (token requests; login attempts hold no slot) the policy list also
 * advertises the connection cap as the draft's concurrency quota: it has no window, and
 * `RateLimit` reports only the group's window, since that is what Remaining and Reset mean.
 */
export function rateLimitHeaders(rate: RateVerdict, maxConnections?: number): Record<string, string> {
	const { now } = rate;
	const { limit, remaining, resetAtMs } = rate.state;
	const resetInSeconds = Math.max(0, Math.ceil((resetAtMs - now) / 1000));
	const windowSeconds = rate.windowMs / 1000;
	return {
		"X-RateLimit-Limit": String(limit),
		"X-RateLimit-Remaining": String(remaining),
		"X-RateLimit-Reset": String(Math.ceil(resetAtMs / 1000)),
		"RateLimit-Policy": [
			`"${rate.group}";q=${limit};w=${windowSeconds}`,
			...(maxConnections === undefined ? [] : [`"${CONNECTIONS_POLICY}";q=${maxConnections};qu="concurrent-requests"`]),
		].join(", "),
		RateLimit: `"${rate.group}";r=${remaining};t=${resetInSeconds}`,
	};
}

export function withHeaders(response: Response, headers: Record<string, string>): Response {
	// Responses from fetch() or a cache can be immutable; copy only when they are.
	let target = response;
	try {
		for (const [name, value] of Object.entries(headers)) target.headers.set(name, value);
	} catch {
		target = new Response(response.body, response);
		for (const [name, value] of Object.entries(headers)) target.headers.set(name, value);
	}
	return target;
}
