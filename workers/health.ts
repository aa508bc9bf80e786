import { z } from "zod";
import { json } from "./http/responses";
import { publicRoute, type Route } from "./routing/route";

const health = publicRoute({
	method: "GET",
	path: "/health",
	summary: "Liveness: 200 once the server takes requests. No token needed.",
	tags: ["meta"],
	responses: { 200: { description: "OK", schema: z.object({ status: z.literal("ok") }) } },
	handler: () => json({ status: "ok" }),
});

export const healthRoutes: Route[] = [health];
