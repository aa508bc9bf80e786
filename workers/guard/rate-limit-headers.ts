import type { RateVerdict } from "../../durable-objects/token-guard";

/** X-RateLimit-* (the seed's contract) and the IETF RateLimit-Policy / RateLimit fields. */
export function rateLimitHeaders(rate: RateVerdict): Record<string, string> {
	const { now } = rate;
	const { limit, remaining, resetAtMs } = rate.state;
	const resetInSeconds = Math.max(0, Math.ceil((resetAtMs - now) / 1000));
	const windowSeconds = rate.windowMs / 1000;
	return {
		"X-RateLimit-Limit": String(limit),
		"X-RateLimit-Remaining": String(remaining),
		"X-RateLimit-Reset": String(Math.ceil(resetAtMs / 1000)),
		"RateLimit-Policy": `"${rate.group}";q=${limit};w=${windowSeconds}`,
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
