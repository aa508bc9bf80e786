import type { z } from "zod";
import { notFound } from "../http/errors";
import { expectedVersion, preconditionFailed, resourceResponse, updateVersioned, versionsParam } from "../http/etag";
import { PageQuery, pageOf, pageOfRows } from "../http/pagination";
import { uuidParam } from "../http/params";
import { takeBack } from "../http/representation";
import { noContent } from "../http/responses";
import { createOnce } from "../idempotency/create-once";
import { nowIso } from "../lib/time";
import { type Route, route } from "../routing/route";
import { Campaign, CampaignBody, CampaignPatch, type CampaignStatus } from "./schemas";

const tags = ["telesales"];

export interface CampaignRow {
	id: string;
	name: string;
	description: string;
	status: z.infer<typeof CampaignStatus>;
	version: number;
	created_at: string;
	updated_at: string;
}

const COLUMNS = "id, name, description, status, version, created_at, updated_at";

/** The documented representation: explicit fields, whatever the row (a RETURNING *) carries besides. */
const present = (row: CampaignRow): z.infer<typeof Campaign> => ({
	id: row.id,
	name: row.name,
	description: row.description,
	status: row.status,
	version: row.version,
	created_at: row.created_at,
	updated_at: row.updated_at,
});

/** The campaign of the caller's account, or 404 (whether it is missing or another account's). */
export async function findCampaign(db: D1Database, accountId: string, params: Record<string, string>): Promise<CampaignRow> {
	const id = uuidParam(params, "id", "Campaign");
	const row = await db
		.prepare(`SELECT ${COLUMNS} FROM telesales_campaigns WHERE id = ? AND account_id = ?`)
		.bind(id, accountId)
		.first<CampaignRow>();
	if (!row) throw notFound("Campaign");
	return row;
}

const create = route({
	method: "POST",
	path: "/api/telesales/campaigns",
	summary: "Create a telesales campaign.",
	tags,
	body: CampaignBody,
	idempotent: true,
	responses: { 201: { description: "Campaign", schema: Campaign, headers: ["ETag", "Location"] } },
	async handler(c) {
		const { env, principal, body, request } = c;
		const now = nowIso();
		const { id } = await createOnce(c, "telesales_campaign", crypto.randomUUID(), (id) => [
			env.DB.prepare(
				"INSERT INTO telesales_campaigns (id, account_id, name, description, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
			).bind(id, principal.accountId, body.name, body.description, body.status, now, now),
		]);
		const row = await findCampaign(env.DB, principal.accountId, { id });
		return resourceResponse(request, present(row), row.version, {
			status: 201,
			headers: { Location: `/api/telesales/campaigns/${id}` },
		});
	},
});

const list = route({
	method: "GET",
	path: "/api/telesales/campaigns",
	summary: "The account's telesales campaigns.",
	tags,
	query: PageQuery,
	responses: { 200: { description: "A page of campaigns", schema: pageOf(Campaign) } },
	async handler({ env, principal, query }) {
		const { rows, next_cursor } = await pageOfRows<CampaignRow>(
			env.DB,
			`SELECT ${COLUMNS} FROM telesales_campaigns WHERE account_id = ?`,
			[principal.accountId],
			query,
		);
		return Response.json({ data: rows.map(present), next_cursor });
	},
});

const get = route({
	method: "GET",
	path: "/api/telesales/campaigns/:id",
	summary: "One campaign, with its ETag.",
	tags,
	headers: ["If-None-Match"],
	responses: { 200: { description: "Campaign", schema: Campaign, headers: ["ETag"] }, 304: { description: "Not modified" } },
	async handler({ env, principal, params, request }) {
		const row = await findCampaign(env.DB, principal.accountId, params);
		return resourceResponse(request, present(row), row.version);
	},
});

const patch = route({
	method: "PATCH",
	path: "/api/telesales/campaigns/:id",
	summary:
		"Change a campaign; with If-Match, only if unchanged since that GET. Takes back the GET representation: `id`, `version` and timestamps may be sent (ignored when they match; another id is a 422).",
	tags,
	body: CampaignPatch,
	headers: ["If-Match"],
	responses: {
		200: { description: "Campaign", schema: Campaign, headers: ["ETag"] },
		412: { description: "Changed since the If-Match ETag" },
	},
	async handler({ env, principal, params, body, request }) {
		const current = await findCampaign(env.DB, principal.accountId, params);
		const row = await updateVersioned<CampaignRow>(env.DB, {
			table: "telesales_campaigns",
			id: current.id,
			accountId: principal.accountId,
			expected: expectedVersion(request),
			set: takeBack(body, { id: current.id }),
			now: nowIso(),
		});
		return resourceResponse(request, present(row), row.version);
	},
});

const remove = route({
	method: "DELETE",
	path: "/api/telesales/campaigns/:id",
	summary: "Delete a campaign with its leads and their dispositions.",
	tags,
	headers: ["If-Match"],
	responses: { 204: { description: "Deleted" }, 412: { description: "Changed since the If-Match ETag" } },
	async handler({ env, principal, params, request }) {
		const current = await findCampaign(env.DB, principal.accountId, params);
		const version = versionsParam(expectedVersion(request));
		// Every statement repeats the precondition, so a stale If-Match deletes nothing at all.
		const matches = "(?2 IS NULL OR version IN (SELECT value FROM json_each(?2)))";
		const unchanged = `EXISTS (SELECT 1 FROM telesales_campaigns WHERE id = ?1 AND ${matches})`;
		const [, , removed] = await env.DB.batch([
			env.DB.prepare(
				`DELETE FROM dispositions WHERE lead_id IN (SELECT id FROM leads WHERE campaign_id = ?1) AND ${unchanged}`,
			).bind(current.id, version),
			env.DB.prepare(`DELETE FROM leads WHERE campaign_id = ?1 AND ${unchanged}`).bind(current.id, version),
			env.DB.prepare(`DELETE FROM telesales_campaigns WHERE id = ?1 AND ${matches}`).bind(current.id, version),
		]);
		if (removed?.meta.changes === 0) throw preconditionFailed();
		return noContent();
	},
});

export const campaignRoutes: Route[] = [create, list, get, patch, remove];
