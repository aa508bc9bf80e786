/** What one response's rate-limit headers said about its group. */
export interface RateReading {
	group: string;
	limit: number;
	remaining: number;
	/** Epoch ms when remaining is back to limit (X-RateLimit-Reset). */
	resetAt: number;
	/** The token's connection cap, from RateLimit-Policy's "connections" item. */
	maxConnections: number | undefined;
	/** When the response was read (epoch ms). */
	seenAt: number;
}

/** A `RateLimit-Policy` list: each item's name and its `q` (quota), in order. */
export function policyItems(header: string): { name: string; quota: number | undefined }[] {
	return header
		.split(",")
		.map((item) => item.trim())
		.filter(Boolean)
		.map((item) => {
			const [name = "", ...params] = item.split(";").map((part) => part.trim());
			const quota = params.find((param) => param.startsWith("q="))?.slice(2);
			return { name: name.replace(/^"|"$/g, ""), quota: quota === undefined ? undefined : Number(quota) };
		});
}

/** The reading a response carries, or undefined when it has no rate-limit headers (login, health). */
export function readRateHeaders(get: (name: string) => string | null, now: number): RateReading | undefined {
	const policy = get("RateLimit-Policy");
	const limit = get("X-RateLimit-Limit");
	const remaining = get("X-RateLimit-Remaining");
	const reset = get("X-RateLimit-Reset");
	if (!policy || limit === null || remaining === null || reset === null) return undefined;
	const items = policyItems(policy);
	const group = items[0]?.name;
	if (!group) return undefined;
	return {
		group,
		limit: Number(limit),
		remaining: Number(remaining),
		resetAt: Number(reset) * 1000,
		maxConnections: items.find((item) => item.name === "connections")?.quota,
		seenAt: now,
	};
}
