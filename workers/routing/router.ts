import { IttyRouter } from "itty-router/IttyRouter";
import type { Route } from "./route";

export type Match =
	| { kind: "route"; route: Route; params: Record<string, string> }
	| { kind: "method-not-allowed"; allow: string[] }
	| { kind: "none" };

/**
 * itty-router does the path matching; its handlers only hand back which route matched, so
 * that authentication, the guard and body validation run in one pipeline (see app.ts).
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
	return async (request: Request): Promise<Match> => ((await router.fetch(request)) as Match | undefined) ?? { kind: "none" };
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
