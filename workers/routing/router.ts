import { IttyRouter } from "itty-router/IttyRouter";
import type { Route } from "./route";

export type Match =
	| { kind: "route"; route: Route; params: Record<string, string> }
	| { kind: "method-not-allowed"; allow: string[] }
	| { kind: "none" };

/**
 * itty-router does the path matching; its handlers only hand back which route matched, so
 * that authentication, the guard and body validation run in one pipeline (see app.ts).
 * What a request is charged follows the route it matched (`AuthedRoute.group`), so every
 * spelling `canonicalPath` lets through lands in that route's bucket.
 */
export function buildMatcher(routes: readonly Route[]) {
	const router = IttyRouter();
	const allowByPath = new Map<string, string[]>();
	for (const route of routes) {
		router[route.method.toLowerCase()]?.(
			route.path,
			(request: { params: Record<string, string> }): Match => ({
				kind: "route",
				route,
				params: decodeParams(request.params),
			}),
		);
		allowByPath.set(route.path, [...(allowByPath.get(route.path) ?? []), route.method]);
	}
	for (const [path, allow] of allowByPath) {
		router.all(path, (): Match => ({ kind: "method-not-allowed", allow }));
	}
	return async (request: Request): Promise<Match> => {
		const url = new URL(request.url);
		const path = canonicalPath(url.pathname);
		if (path === undefined) return { kind: "none" };
		url.pathname = path;
		return ((await router.fetch({ method: request.method, url: url.href })) as Match | undefined) ?? { kind: "none" };
	};
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * The one spelling of a request's path that the router matches, or undefined for a spelling
 * no route answers to (404). Routed, as the path they spell:
 * - one trailing slash (`/api/pbx/calls/click-to-call/`);
 * - dot segments (`/./`, `/x/../`, `%2e`), which the URL parser resolves before we see the path;
 * - percent-encoded unreserved characters (`%2D` or `%2d` for `-`, `%70` for `p`), the same URI
 *   by RFC 3986 §6.2.2.2; decoding them here keeps `/leads/bul%6B` on the bulk route rather
 *   than letting it reach `/leads/:id`.
 * Not routed: another letter case (paths are case-sensitive), an empty segment (`//`, also as
 * a doubled trailing slash), a dot segment that survived parsing, and encoded reserved
 * characters (`%2F`) in a static segment. Parameters keep their own decoding (`decodeParams`).
 */
export function canonicalPath(pathname: string): string | undefined {
	const decoded = pathname.replace(/%[0-9A-Fa-f]{2}/g, (encoded) => {
		const char = String.fromCharCode(Number.parseInt(encoded.slice(1), 16));
		return UNRESERVED.test(char) ? char : encoded;
	});
	if (decoded === "/") return decoded;
	const path = decoded.endsWith("/") ? decoded.slice(0, -1) : decoded;
	const segments = path.slice(1).split("/");
	return segments.some((segment) => segment === "" || segment === "." || segment === "..") ? undefined : path;
}

function decodeParams(params: Record<string, string>): Record<string, string> {
	return Object.fromEntries(Object.entries(params).map(([key, value]) => [key, safeDecode(value)]));
}

function safeDecode(value: string): string {
	try {
		return decodeURIComponent(value);
	} catch {
		return value;
	}
}
