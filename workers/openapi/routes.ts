import { z } from "zod";
import { publicRoute, type Route } from "../routing/route";
import { DOCS_CONTENT_SECURITY_POLICY, renderDocs } from "./docs";
import { openApiDocument } from "./document";

/** The document describes every route, itself included; it and its rendering are built once per isolate. */
export function openApiRoutes(describe: () => readonly Route[]): Route[] {
	let document: Record<string, unknown> | undefined;
	let json: string | undefined;
	let html: string | undefined;
	const built = () => {
		document ??= openApiDocument(describe());
		return document;
	};
	return [
		publicRoute({
			method: "GET",
			path: "/openapi.json",
			summary: "This API's OpenAPI 3.1 document.",
			tags: ["meta"],
			responses: { 200: { description: "OpenAPI document", schema: z.record(z.string(), z.unknown()) } },
			handler: () => {
				json ??= JSON.stringify(built());
				return new Response(json, { headers: { "Content-Type": "application/json", "Cache-Control": "public, max-age=300" } });
			},
		}),
		publicRoute({
			method: "GET",
			path: "/docs",
			summary: "This API's reference, rendered from the OpenAPI document: one HTML page that loads nothing else.",
			tags: ["meta"],
			responses: { 200: { description: "API reference", mediaType: "text/html" } },
			handler: () => {
				html ??= renderDocs(built());
				return new Response(html, {
					headers: {
						"Content-Type": "text/html; charset=utf-8",
						"Cache-Control": "public, max-age=300",
						"Content-Security-Policy": DOCS_CONTENT_SECURITY_POLICY,
					},
				});
			},
		}),
	];
}
