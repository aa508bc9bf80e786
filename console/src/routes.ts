/**
 * The console's pages, as paths below /console. The Worker serves the app's index.html for
 * these only (so an unknown path under /console, `/console/api/...` say, is the API's JSON 404,
 * not a page that answers 200), and the app draws the page that matches. No DOM here: the
 * Worker imports this file too.
 */
export const APP_ROUTES = [
	"/",
	"/accounts",
	"/campaigns",
	"/campaigns/new",
	"/campaigns/:id",
	"/calls",
	"/limits",
	"/webhooks",
	"/webhooks/:id",
] as const;

/** The params of `pattern` ("/campaigns/:id") in `route`, undecoded, or undefined when it does not match. */
export function matchRaw(pattern: string, route: string): Record<string, string> | undefined {
	const want = pattern.split("/");
	const have = route.split("/");
	if (want.length !== have.length) return undefined;
	const params: Record<string, string> = {};
	for (let i = 0; i < want.length; i++) {
		const part = want[i] ?? "";
		const value = have[i] ?? "";
		if (part.startsWith(":")) {
			if (value === "") return undefined;
			params[part.slice(1)] = value;
		} else if (part !== value) return undefined;
	}
	return params;
}

/**
 * Matches "/campaigns/:id" against a route: the params, decoded, or undefined. A param that is
 * not valid percent-encoding (`/campaigns/%E0`) matches nothing, so the page is "Not found"
 * rather than an uncaught URIError and a blank page.
 */
export function match(pattern: string, route: string): Record<string, string> | undefined {
	const raw = matchRaw(pattern, route);
	if (!raw) return undefined;
	try {
		return Object.fromEntries(Object.entries(raw).map(([name, value]) => [name, decodeURIComponent(value)]));
	} catch {
		return undefined;
	}
}

/** A path below /console ("" or "/…", trailing slashes allowed) that is one of the app's pages. */
export function isAppRoute(path: string): boolean {
	const route = path === "" ? "/" : path.replace(/\/+$/, "") || "/";
	return APP_ROUTES.some((pattern) => matchRaw(pattern, route) !== undefined);
}
