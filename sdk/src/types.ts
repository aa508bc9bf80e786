import type { components, paths } from "./generated/openapi.js";

/** The schemas of /openapi.json by name: `Schemas["Extension"]`. */
export type Schemas = components["schemas"];

export type HttpMethod = "get" | "post" | "put" | "patch" | "delete";

type Present<T> = Exclude<T, undefined>;

/** The path templates that have an operation for `M`: `PathsWith<"put">` is "/api/pbx/extensions/{extension}". */
export type PathsWith<M extends HttpMethod> = {
	[P in keyof paths]: [Present<paths[P][M]>] extends [never] ? never : P;
}[keyof paths];

export type Operation<P extends keyof paths, M extends HttpMethod> = Present<paths[P][M]>;

type ParametersOf<O> = O extends { parameters: infer X } ? X : never;
type PathParamsOf<O> = ParametersOf<O> extends { path: infer X } ? X : never;
type QueryOf<O> = ParametersOf<O> extends { query?: infer Q } ? Present<Q> : never;
type RequestBodyOf<O> = O extends { requestBody?: infer R } ? Present<R> : never;
type JsonBodyOf<O> = [RequestBodyOf<O>] extends [never]
	? never
	: RequestBodyOf<O> extends { content: { "application/json": infer B } }
		? B
		: never;

type PathPart<O> = [PathParamsOf<O>] extends [never] ? { path?: undefined } : { path: PathParamsOf<O> };
type QueryPart<O> = [QueryOf<O>] extends [never] ? { query?: undefined } : { query?: QueryOf<O> };
type BodyPart<O> = [JsonBodyOf<O>] extends [never]
	? { body?: undefined }
	: O extends { requestBody: unknown }
		? { body: JsonBodyOf<O> }
		: { body?: JsonBodyOf<O> };

/** What every request may add. */
export interface CommonOptions {
	/**
	 * The Idempotency-Key for this logical call, kept on every retry. Routes that take one get
	 * a new one per call when this is absent; on other routes it is an error.
	 */
	idempotencyKey?: string;
	/** If-Match: the write applies only over this ETag (else PreconditionFailedError). */
	ifMatch?: string;
	/** Other request headers. */
	headers?: Record<string, string>;
	signal?: AbortSignal;
	/** For a cacheable list: false skips the cache (the answer still refreshes it). */
	cache?: boolean;
	/**
	 * The caller vouches that repeating this write has the effect of doing it once (it sets
	 * fields to values, for instance), so it is retried after a 5xx or a lost answer like a PUT.
	 */
	repeatable?: boolean;
}

/** The options of a request to `P` with `M`: its path parameters, query and JSON body, typed. */
export type RequestOptions<P extends PathsWith<M>, M extends HttpMethod> = PathPart<Operation<P, M>> &
	QueryPart<Operation<P, M>> &
	BodyPart<Operation<P, M>> &
	CommonOptions;

/** Optional when nothing in them is required. */
export type OptionsArgument<T> = Partial<T> extends T ? [options?: T] : [options: T];

type ResponsesOf<O> = O extends { responses: infer R } ? R : never;
type SuccessStatus = 200 | 201 | 202 | 204;
type JsonContent<X> = X extends { content: { "application/json": infer B } } ? B : undefined;

/** Each success status's body, mapped before the union is taken so the checker never forms the cross product. */
type SuccessBodies<R> = { [S in Extract<keyof R, SuccessStatus>]: JsonContent<R[S]> }[Extract<keyof R, SuccessStatus>];

/** The JSON body of the operation's success answers (undefined for a 204). */
export type ResponseData<P extends PathsWith<M>, M extends HttpMethod> = SuccessBodies<ResponsesOf<Operation<P, M>>>;

/** A success answer with what the client learned about it. */
export interface ApiResponse<T> {
	status: number;
	data: T;
	headers: Headers;
	/** The ETag, when the server sent one. */
	etag: string | undefined;
	/** The server replayed the first answer to this Idempotency-Key. */
	replayed: boolean;
	/** "network": a fresh answer; "cache": from the cache without a request; "revalidated": a 304 confirmed the cached copy. */
	source: "network" | "cache" | "revalidated";
	/** Attempts it took (1 without retries; 0 from the cache). */
	attempts: number;
	/** The Idempotency-Key it was sent with, if any. */
	idempotencyKey: string | undefined;
	/**
	 * An earlier attempt of this call got no answer or a 5xx, so it may have taken effect and
	 * this answer is its repeat's. A DELETE whose repeat finds nothing (404) resolves with
	 * status 404 and this true instead of throwing NotFoundError: the resource is gone, most
	 * likely by that earlier attempt.
	 */
	afterLostAttempt: boolean;
}
