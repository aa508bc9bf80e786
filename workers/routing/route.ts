import type { z } from "zod";
import type { Principal } from "../auth/principal";
import type { Admission } from "../guard/guard";
import { type RateLimitGroup, rateLimitGroupFor } from "../guard/rate-limit-groups";
import type { IdempotencyUse } from "../idempotency/replay";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Who may call a route: anyone, any valid token, or a platform admin's token. */
export type Access = "public" | "token" | "platform-admin";

export interface ResponseDoc {
	description: string;
	schema?: z.ZodType;
	headers?: string[];
	/** The body's media type when it is not JSON (an event stream, an HTML page). */
	mediaType?: string;
}

export interface BaseContext<Body, Query> {
	request: Request;
	env: Env;
	ctx: ExecutionContext;
	url: URL;
	params: Record<string, string>;
	body: Body;
	query: Query;
	/**
	 * Set when a route with `csvBody` received `Content-Type: text/csv`: the body, unread (the
	 * handler streams it), and `body` is then undefined whatever its type says.
	 */
	csv?: CsvBody;
}

export interface CsvBody {
	stream: ReadableStream<Uint8Array>;
}

export interface AuthedContext<Body, Query> extends BaseContext<Body, Query> {
	principal: Principal;
	admission: Admission;
	/** Set on idempotent routes when the client sent a key: creates record it with the resource. */
	idempotency?: IdempotencyUse;
}

interface RouteDoc<B extends z.ZodType | undefined, Q extends z.ZodType | undefined> {
	method: Method;
	/** itty-router pattern, e.g. `/api/pbx/extensions/:extension`. */
	path: string;
	summary: string;
	tags: string[];
	body?: B;
	/**
	 * A form-encoded body (`application/x-www-form-urlencoded`) the handler reads and checks
	 * itself (a carrier's signed callback, whose signature covers the raw parameters): documented
	 * as the request body, never parsed by the pipeline.
	 */
	formBody?: z.ZodType;
	/**
	 * The route also takes `text/csv` (documented beside the JSON body with this description):
	 * the pipeline does not read it but hands its stream to the handler as `csv`; options
	 * come as query parameters. Any other Content-Type than JSON or CSV is a 415.
	 */
	csvBody?: { description: string };
	query?: Q;
	maxBodyBytes?: number;
	responses: Record<number, ResponseDoc>;
	/** Requests with an Idempotency-Key are replayed rather than processed twice. */
	idempotent?: boolean;
	/** The handler keeps the connection slot and releases it itself (event streams). */
	holdsConnection?: boolean;
	/** Request headers the handler reads (for the OpenAPI document). */
	headers?: string[];
}

type Infer<S> = S extends z.ZodType ? z.infer<S> : undefined;

export interface PublicRoute<
	B extends z.ZodType | undefined = z.ZodType | undefined,
	Q extends z.ZodType | undefined = z.ZodType | undefined,
> extends RouteDoc<B, Q> {
	access: "public";
	handler: (c: BaseContext<Infer<B>, Infer<Q>>) => Promise<Response> | Response;
}

export interface AuthedRoute<
	B extends z.ZodType | undefined = z.ZodType | undefined,
	Q extends z.ZodType | undefined = z.ZodType | undefined,
> extends RouteDoc<B, Q> {
	access: "token" | "platform-admin";
	/**
	 * Whose bucket a request spends: fixed from the declared path when the route is built, so
	 * however a client spells the path, a request the router sends here is counted here.
	 */
	group: RateLimitGroup;
	handler: (c: AuthedContext<Infer<B>, Infer<Q>>) => Promise<Response> | Response;
}

export type Route = PublicRoute | AuthedRoute;

export function publicRoute<B extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined>(
	route: Omit<PublicRoute<B, Q>, "access">,
): Route {
	return { ...route, access: "public" } as unknown as Route;
}

export function route<B extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined>(
	route: Omit<AuthedRoute<B, Q>, "access" | "group"> & { access?: "token" | "platform-admin" },
): Route {
	const group = rateLimitGroupFor(route.method, route.path);
	// A guarded route in no group would be unlimited; fail when the table is built, not on a request.
	if (!group) throw new Error(`${route.method} ${route.path} has no rate-limit group`);
	return { access: "token", ...route, group } as unknown as Route;
}
