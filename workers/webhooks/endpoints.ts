import type { z } from "zod";
import type { Principal } from "../auth/principal";
import { enqueueDeliveries } from "../events/outbox";
import { ApiError, invalidField, notFound } from "../http/errors";
import { expectedVersion, resourceResponse, updateVersioned } from "../http/etag";
import { OrderedPageQuery, PageQuery, pageOf, pageOfRows } from "../http/pagination";
import { uuidParam } from "../http/params";
import { takeBack } from "../http/representation";
import { noContent } from "../http/responses";
import { nowIso } from "../lib/time";
import { type Route, route } from "../routing/route";
import { publicAttemptError } from "./delivery";
import { Delivery, Endpoint, EndpointBody, EndpointPatch, EndpointWithSecret } from "./schemas";
import { newWebhookSecret, sealSecret } from "./secrets";
import { webhookUrlProblem } from "./urls";

const tags = ["webhooks"];
const BASE = "/api/webhooks/endpoints";
/** Every endpoint costs a delivery per matching event: the cap bounds the fan-out one account can cause. */
export const MAX_ENDPOINTS_PER_ACCOUNT = 20;

interface EndpointRow {
	id: string;
	url: string;
	events: string;
	description: string;
	enabled: number;
	disabled_reason: string | null;
	failing_since: string | null;
	last_success_at: string | null;
	version: number;
	created_at: string;
	updated_at: string;
}

const COLUMNS =
	"id, url, events, description, enabled, disabled_reason, failing_since, last_success_at, version, created_at, updated_at";

/** The documented representation: explicit fields, never the row (it holds the sealed secret and the account). */
const present = (row: EndpointRow): z.infer<typeof Endpoint> => ({
	id: row.id,
	url: row.url,
	events: JSON.parse(row.events) as string[],
	description: row.description,
	enabled: row.enabled === 1,
	disabled_reason: row.disabled_reason,
	failing_since: row.failing_since,
	last_success_at: row.last_success_at,
	version: row.version,
	created_at: row.created_at,
	updated_at: row.updated_at,
});

function checkUrl(env: Env, url: string) {
	const problem = webhookUrlProblem(url, env.ENVIRONMENT);
	if (problem) throw invalidField("url", problem);
}

async function findEndpoint(db: D1Database, principal: Principal, params: Record<string, string>): Promise<EndpointRow> {
	const id = uuidParam(params, "id", "Webhook endpoint");
	const row = await db
		.prepare(`SELECT ${COLUMNS} FROM webhook_endpoints WHERE id = ? AND account_id = ?`)
		.bind(id, principal.accountId)
		.first<EndpointRow>();
	if (!row) throw notFound("Webhook endpoint");
	return row;
}

const create = route({
	method: "POST",
	path: BASE,
	summary: `Register a webhook endpoint for some event types; its signing secret (whsec_…) is shown once. In production the URL is https on the default port to a public host name (no IP address, localhost or private name). At most ${MAX_ENDPOINTS_PER_ACCOUNT} endpoints per account.`,
	tags,
	body: EndpointBody,
	maxBodyBytes: 16 * 1024,
	responses: {
		201: { description: "Endpoint with its secret", schema: EndpointWithSecret, headers: ["ETag"] },
		409: { description: `The account already has ${MAX_ENDPOINTS_PER_ACCOUNT} endpoints` },
	},
	async handler({ env, principal, body, request }) {
		checkUrl(env, body.url);
		const secret = newWebhookSecret();
		const now = nowIso();
		const row: EndpointRow = {
			id: crypto.randomUUID(),
			url: body.url,
			events: JSON.stringify([...new Set(body.events)]),
			description: body.description,
			enabled: 1,
			disabled_reason: null,
			failing_since: null,
			last_success_at: null,
			version: 1,
			created_at: now,
			updated_at: now,
		};
		// The count and the insert are one statement, so a burst of creates cannot pass the cap together.
		const inserted = await env.DB.prepare(
			`INSERT INTO webhook_endpoints (id, account_id, url, description, events, secret_ciphertext, created_at, updated_at)
			 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7
			  WHERE (SELECT count(*) FROM webhook_endpoints WHERE account_id = ?2) < ?8`,
		)
			.bind(
				row.id,
				principal.accountId,
				row.url,
				row.description,
				row.events,
				await sealSecret(env, secret),
				now,
				MAX_ENDPOINTS_PER_ACCOUNT,
			)
			.run();
		if (inserted.meta.changes === 0) {
			throw new ApiError(
				409,
				`This account already has ${MAX_ENDPOINTS_PER_ACCOUNT} webhook endpoints, the most it may have; delete one first.`,
			);
		}
		return resourceResponse(request, { ...present(row), secret }, row.version, { status: 201 });
	},
});

const list = route({
	method: "GET",
	path: BASE,
	summary: "The account's webhook endpoints (never their secrets).",
	tags,
	query: PageQuery,
	responses: { 200: { description: "A page of endpoints", schema: pageOf(Endpoint) } },
	async handler({ env, principal, query }) {
		const { rows, next_cursor } = await pageOfRows<EndpointRow>(
			env.DB,
			`SELECT ${COLUMNS} FROM webhook_endpoints WHERE account_id = ?`,
			[principal.accountId],
			query,
		);
		return Response.json({ data: rows.map(present), next_cursor });
	},
});

const get = route({
	method: "GET",
	path: `${BASE}/:id`,
	summary: "One endpoint, with its ETag.",
	tags,
	headers: ["If-None-Match"],
	responses: { 200: { description: "Endpoint", schema: Endpoint, headers: ["ETag"] }, 304: { description: "Not modified" } },
	async handler({ env, principal, params, request }) {
		const row = await findEndpoint(env.DB, principal, params);
		return resourceResponse(request, present(row), row.version);
	},
});

const patch = route({
	method: "PATCH",
	path: `${BASE}/:id`,
	summary:
		"Change an endpoint (re-enable one that was disabled); with If-Match, only if unchanged since that GET. Takes back the GET representation: `id`, `version`, timestamps and the delivery state may be sent (ignored; another id is a 422).",
	tags,
	body: EndpointPatch,
	headers: ["If-Match"],
	responses: {
		200: { description: "Endpoint", schema: Endpoint, headers: ["ETag"] },
		412: { description: "Changed since the If-Match ETag" },
	},
	async handler({ env, principal, params, body, request }) {
		const current = await findEndpoint(env.DB, principal, params);
		const changes = takeBack(body, { id: current.id }, ["disabled_reason", "failing_since", "last_success_at"]);
		if (changes.url !== undefined) checkUrl(env, changes.url);
		const set: Record<string, string | number | null> = {};
		if (changes.url !== undefined) set.url = changes.url;
		if (changes.description !== undefined) set.description = changes.description;
		if (changes.events !== undefined) set.events = JSON.stringify([...new Set(changes.events)]);
		// Only a change of state resets it: a representation sent back with `enabled` as it was keeps the failure record.
		if (changes.enabled !== undefined && changes.enabled !== (current.enabled === 1))
			Object.assign(
				set,
				{ enabled: changes.enabled ? 1 : 0, disabled_reason: changes.enabled ? null : "Disabled by the account." },
				changes.enabled ? { failing_since: null } : {},
			);
		const row = await updateVersioned<EndpointRow>(env.DB, {
			table: "webhook_endpoints",
			id: current.id,
			accountId: principal.accountId,
			expected: expectedVersion(request),
			set,
			now: nowIso(),
		});
		return resourceResponse(request, present(row), row.version);
	},
});

const remove = route({
	method: "DELETE",
	path: `${BASE}/:id`,
	summary: "Delete an endpoint and its delivery log.",
	tags,
	responses: { 204: { description: "Deleted" } },
	async handler({ env, principal, params }) {
		const current = await findEndpoint(env.DB, principal, params);
		await env.DB.batch([
			env.DB.prepare(
				"DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE endpoint_id = ?)",
			).bind(current.id),
			env.DB.prepare("DELETE FROM webhook_deliveries WHERE endpoint_id = ?").bind(current.id),
			env.DB.prepare("DELETE FROM webhook_endpoints WHERE id = ?").bind(current.id),
		]);
		return noContent();
	},
});

const rotate = route({
	method: "POST",
	path: `${BASE}/:id/rotate-secret`,
	summary: "Replace the endpoint's signing secret; the new one is shown once and signs every later attempt.",
	tags,
	headers: ["If-Match"],
	responses: { 200: { description: "Endpoint with its new secret", schema: EndpointWithSecret, headers: ["ETag"] } },
	async handler({ env, principal, params, request }) {
		const current = await findEndpoint(env.DB, principal, params);
		const secret = newWebhookSecret();
		const row = await updateVersioned<EndpointRow>(env.DB, {
			table: "webhook_endpoints",
			id: current.id,
			accountId: principal.accountId,
			expected: expectedVersion(request),
			set: { secret_ciphertext: await sealSecret(env, secret) },
			now: nowIso(),
		});
		return resourceResponse(request, { ...present(row), secret }, row.version);
	},
});

const deliveries = route({
	method: "GET",
	path: `${BASE}/:id/deliveries`,
	summary:
		"The endpoint's delivery log: every event sent to it, each attempt's status code and latency, oldest first or with `order=desc` newest first. An attempt without a status says why in a fixed word (timeout, connection failed, request failed), never the receiver's own error text.",
	tags,
	query: OrderedPageQuery,
	responses: { 200: { description: "A page of deliveries", schema: pageOf(Delivery) } },
	async handler({ env, principal, params, query }) {
		const endpoint = await findEndpoint(env.DB, principal, params);
		const { rows, next_cursor } = await pageOfRows<{
			id: string;
			created_at: string;
			status: string;
			next_attempt_at: string;
			attempts: string;
		}>(
			env.DB,
			`SELECT d.id, d.event_id, e.type AS event_type, d.status, d.next_attempt_at, d.created_at,
			        (SELECT json_group_array(json_object('attempt', a.attempt, 'status_code', a.status_code, 'error', a.error,
			                                             'latency_ms', a.latency_ms, 'attempted_at', a.attempted_at))
			           FROM (SELECT * FROM webhook_attempts WHERE delivery_id = d.id ORDER BY attempt) a) AS attempts
			   FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
			  WHERE d.endpoint_id = ?`,
			[endpoint.id],
			query,
			"d",
		);
		return Response.json({
			data: rows.map((row) => ({
				...row,
				attempts: (JSON.parse(row.attempts) as { error: string | null }[]).map((attempt) => ({
					...attempt,
					error: publicAttemptError(attempt.error),
				})),
				next_attempt_at: row.status === "pending" ? row.next_attempt_at : null,
			})),
			next_cursor,
		});
	},
});

const resend = route({
	method: "POST",
	path: `${BASE}/:id/events/:eventId/resend`,
	summary: "Send one event to this endpoint again (a new delivery, same webhook-id).",
	tags,
	responses: { 202: { description: "Queued", schema: Delivery.pick({ id: true, event_id: true, status: true }) } },
	async handler({ env, principal, params }) {
		const endpoint = await findEndpoint(env.DB, principal, params);
		if (!endpoint.enabled) throw new ApiError(409, "The endpoint is disabled; enable it first.");
		const event = await env.DB.prepare("SELECT id FROM events WHERE id = ? AND account_id = ?")
			.bind(params.eventId ?? "", principal.accountId)
			.first<{ id: string }>();
		if (!event) throw notFound("Event");
		const id = `dlv_${crypto.randomUUID().replaceAll("-", "")}`;
		const now = nowIso();
		await env.DB.prepare(
			"INSERT INTO webhook_deliveries (id, account_id, endpoint_id, event_id, status, attempts, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
		)
			.bind(id, principal.accountId, endpoint.id, event.id, now, now, now)
			.run();
		await enqueueDeliveries(env, [id]);
		return Response.json({ id, event_id: event.id, status: "pending" }, { status: 202 });
	},
});

export const webhookEndpointRoutes: Route[] = [create, list, get, patch, remove, rotate, deliveries, resend];
