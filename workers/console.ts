import { isAppRoute } from "../console/src/routes";
import { ApiError, errorResponse } from "./http/errors";

/**
 * The operations console (console/src, built into the static assets by `npm run
 * console:build`): /console and every path below it. The Worker runs first for every request
 * (wrangler.toml `run_worker_first`), so nothing outside /console can be answered by an
 * asset, and the console's own answers get their headers here, in one place.
 */
export const isConsolePath = (pathname: string) => pathname === "/console" || pathname.startsWith("/console/");

/** A name with an extension is one of the build's files; anything else is a page of the app. */
const isFile = (pathname: string) => /\.[A-Za-z0-9]+$/.test(pathname.slice(pathname.lastIndexOf("/") + 1));

/**
 * Scripts, styles and API calls from this origin only: the token the console holds in
 * sessionStorage is out of reach of any script it did not ship. No framing (clickjacking).
 */
const SECURITY_HEADERS: Record<string, string> = {
	"Content-Security-Policy":
		"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy": "no-referrer",
};

/** Scripts and styles carry a content hash in their names, so they never change; the page must be fresh. */
const cacheControl = (pathname: string) => (/\.(js|css)$/.test(pathname) ? "public, max-age=31536000, immutable" : "no-cache");

export async function serveConsole(request: Request, env: Env): Promise<Response> {
	if (request.method !== "GET" && request.method !== "HEAD") {
		return errorResponse(new ApiError(405, "Method not allowed.", undefined, { Allow: "GET, HEAD" }));
	}
	const url = new URL(request.url);
	const file = isFile(url.pathname);
	// Every page of the app is its one index.html (the app routes in the browser); any other
	// path (a client that put /console before /api, say) is the API's 404, not a page with 200.
	if (!file && !isAppRoute(url.pathname.slice("/console".length))) return errorResponse(new ApiError(404, "Route not found."));
	const target = file ? url : new URL("/console/", url);
	let asset: Response;
	try {
		asset = await env.ASSETS.fetch(new Request(target, { method: request.method, headers: request.headers }));
	} catch (error) {
		console.error("console asset fetch failed", error instanceof Error ? error.message : String(error));
		return errorResponse(new ApiError(503, "The console is not available: its assets could not be read."));
	}
	if (asset.status === 404) {
		return errorResponse(
			file ? new ApiError(404, "Route not found.") : new ApiError(503, "The console is not built: run `npm run console:build`."),
		);
	}
	const response = new Response(asset.body, asset);
	for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.headers.set(name, value);
	if (asset.ok) response.headers.set("Cache-Control", cacheControl(target.pathname));
	return response;
}
