import { type Admission, admit, holdSlot } from "./guard/guard";
import { withHeaders } from "./guard/rate-limit-headers";
import { DEFAULT_MAX_BODY_BYTES, parseJson, readBodyText, validate } from "./http/body";
import { ApiError, errorResponse, forbidden } from "./http/errors";
import { idempotencyKeyOf, requestFingerprint } from "./idempotency/keys";
import { type IdempotencyUse, once } from "./idempotency/replay";
import type { BaseContext, Route } from "./routing/route";
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
	const { principal, admission } = await admit(request, env, route.group);
	// Renewed until the response exists (an event stream's heartbeat renews it after that).
	const stopRenewing = holdSlot(admission);
	let response: Response;
	try {
		if (route.access === "platform-admin" && principal.role !== "platform_admin") throw forbidden();
		const idempotencyKey = route.idempotent ? idempotencyKeyOf(request) : undefined;
		const input = await withInput(route, base);
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
	if (!route.holdsConnection || response.status >= 400) ctx.waitUntil(releaseQuietly(admission));
	return withHeaders(response, admission.headers);
}

/** Reads and validates body and query; the raw body is kept for the idempotency fingerprint. */
async function withInput<C extends BaseContext<undefined, undefined>>(route: Route, base: C) {
	const rawBody = route.body ? await readBodyText(base.request, route.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES) : "";
	const body = route.body ? validate(route.body, parseJson(rawBody)) : undefined;
	const query = route.query ? validate(route.query, Object.fromEntries(base.url.searchParams), ["query"]) : undefined;
	const context: BaseContext<never, never> = { ...base, body: body as never, query: query as never };
	return { context, rawBody };
}

async function releaseQuietly(admission: Admission) {
	try {
		await admission.release();
	} catch (error) {
		// The lease expires on its own; a failed release only delays the slot.
		console.warn("connection slot release failed", error instanceof Error ? error.message : String(error));
	}
}
