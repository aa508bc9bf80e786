import { publicRoute, type Route } from "../routing/route";
import { openApiDocument } from "./document";

/** The document describes every route, itself included; it is built once per isolate. */
export function openApiRoutes(describe: () => readonly Route[]): Route[] {
	let cached: string | undefined;
	return [
		publicRoute({
			method: "GET",
			path: "/openapi.json",
			summary: "This API's OpenAPI 3.1 document.",
			tags: ["meta"],
			responses: { 200: { description: "OpenAPI document" } },
			handler: () => {
				cached ??= JSON.stringify(openApiDocument(describe()));
				return new Response(cached, { headers: { "Content-Type": "application/json", "Cache-Control": "public, max-age=300" } });
			},
		}),
	];
}
