import { admit, holdSlot } from "./guard/guard";
import { withHeaders } from "./guard/rate-limit-headers";
import { DEFAULT_MAX_BODY_BYTES, parseJson, readBodyText, validate } from "./http/body";
import { byteCap, checkCsvCharset, csvTooLarge, MAX_CSV_BYTES, mediaTypeOf } from "./http/csv";
import { ApiError, errorResponse, forbidden } from "./http/errors";
import { idempotencyKeyOf, requestFingerprint } from "./idempotency/keys";
import { type IdempotencyUse, once } from "./idempotency/replay";
import type { BaseContext, CsvBody, Route } from "./routing/route";
import { buildMatcher, canonicalPath } from "./routing/router";

/**
 * The request pipeline: match → authenticate and guard (one Durable Object call) → validate
 * → (Idempotency-Key: claim the key, or replay) → handle. Every error, wherever it is thrown, leaves through `errorResponse`.
 */
export function createApp(routes: readonly Route[]) {
	const match = buildMatcher(routes);

	return async function handle(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
		try {
			const found = await match(request);
			if (found.kind === "none") throw new ApiError(404, "Route not found.");
			if (found.kind === "method-not-allowed") {
				throw new ApiError(405, "Method not allowed.", undefined, { Allow: found.allow.join(", ") });
			}
			const { route, params } = found;
			const base = { request, env, ctx, url: new URL(request.url), params, body: undefined, query: undefined };
			if (route.access === "public") return await route.handler((await withInput(route, base)).context);
			return await handleGuarded(route, base);
		} catch (error) {
			return errorResponse(error);
		}
	};
}

async function handleGuarded(route: Route & { access: "token" | "platform-admin" }, base: BaseContext<undefined, undefined>) {
	const { request, env, ctx, url } = base;
	// The matched route's group, never the request's spelling of the path (see canonicalPath).
	const { principal, admission } = await admit(request, env, ctx, route.group);
	// Renewed until the response exists (an event stream's heartbeat renews it after that).
	const stopRenewing = holdSlot(admission);
	let response: Response;
	try {
		if (route.access === "platform-admin" && principal.role !== "platform_admin") throw forbidden();
		const idempotencyKey = route.idempotent ? idempotencyKeyOf(request) : undefined;
		const input = await withInput(route, base, idempotencyKey !== undefined);
		const handle = async (idempotency?: IdempotencyUse) => {
			try {
				return await route.handler({ ...input.context, principal, admission, idempotency });
			} catch (error) {
				return errorResponse(error);
			}
		};
		response = idempotencyKey
			? await once(
					env,
					principal.accountId,
					idempotencyKey,
					// The route's one spelling: a retry to `/click-to-call/` is the same request, a replay.
					await requestFingerprint(route.method, canonicalPath(url.pathname) ?? url.pathname, input.rawBody),
					handle,
				)
			: await handle();
	} catch (error) {
		response = errorResponse(error);
	} finally {
		stopRenewing();
	}
	if (!route.holdsConnection || response.status >= 400) ctx.waitUntil(admission.releaseWithNextAdmit());
	return withHeaders(response, admission.headers);
}

/** Reads and validates body and query; the raw body is kept for the idempotency fingerprint. */
async function withInput<C extends BaseContext<undefined, undefined>>(route: Route, base: C, keyed = false) {
	const csv = route.csvBody ? await csvInput(base.request, base.url, keyed) : undefined;
	const rawBody = csv
		? csv.fingerprint
		: route.body
			? await readBodyText(base.request, route.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES)
			: "";
	const body = route.body && !csv ? validate(route.body, parseJson(rawBody)) : undefined;
	const query = route.query ? validate(route.query, Object.fromEntries(base.url.searchParams), ["query"]) : undefined;
	if (csv) return { context: { ...base, body: undefined as never, query: query as never, csv: csv.body }, rawBody };
	const context: BaseContext<never, never> = { ...base, body: body as never, query: query as never };
	return { context, rawBody };
}

/**
 * A `text/csv` body on a route that takes one: left unread for the handler to stream. A keyed
 * request's bytes are read first (they are what the key's fingerprint covers, with the query,
 * which carries the CSV options), then streamed from memory. JSON (or no Content-Type) goes
 * the usual way; anything else is a 415.
 */
async function csvInput(request: Request, url: URL, keyed: boolean) {
	const type = mediaTypeOf(request);
	if (type === undefined || type === "application/json") return undefined;
	if (type !== "text/csv") throw new ApiError(415, "Send the body as application/json or text/csv.");
	checkCsvCharset(request);
	if (Number(request.headers.get("Content-Length") ?? "0") > MAX_CSV_BYTES) throw csvTooLarge();
	if (!keyed)
		return { body: { stream: request.body ?? new ReadableStream({ start: (c) => c.close() }) } as CsvBody, fingerprint: "" };
	const bytes = new Uint8Array(await new Response(request.body?.pipeThrough(byteCap(MAX_CSV_BYTES))).arrayBuffer());
	const digest = [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))]
		.map((b) => b.toString(16).padStart(2, "0"))
		.join("");
	return { body: { stream: new Response(bytes).body } as CsvBody, fingerprint: `text/csv ${url.search}\n${digest}` };
}
