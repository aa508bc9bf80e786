import type { z } from "zod";
import { recipientZones } from "../compliance/recipient-zone";
import { ApiError, notFound } from "../http/errors";
import { expectedVersion, resourceResponse, updateVersioned } from "../http/etag";
import { pageOf, pageOfRows } from "../http/pagination";
import { uuidParam } from "../http/params";
import { takeBack } from "../http/representation";
import { isUniqueViolation } from "../idempotency/claims";
import { createOnce } from "../idempotency/create-once";
import { requirePhone, toE164 } from "../lib/phone";
import { nowIso } from "../lib/time";
import { type Route, route } from "../routing/route";
import { findCampaign } from "./campaigns";
import { Lead, LeadBody, LeadListQuery, LeadPatchBody, type LeadStatus } from "./schemas";

const tags = ["telesales"];

export interface LeadRow {
	id: string;
	campaign_id: string;
	phone: string;
	name: string;
	email: string | null;
	status: z.infer<typeof LeadStatus>;
	notes: string;
	attributes: string;
	timezone: string | null;
	version: number;
	created_at: string;
	updated_at: string;
}

export const LEAD_COLUMNS =
	"id, campaign_id, phone, name, email, status, notes, attributes, timezone, version, created_at, updated_at";

/** The documented representation: explicit fields, whatever the row (a RETURNING *) carries besides. */
export const presentLead = (row: LeadRow): z.infer<typeof Lead> => ({
	id: row.id,
	campaign_id: row.campaign_id,
	phone: row.phone,
	name: row.name,
	email: row.email,
	status: row.status,
	notes: row.notes,
	attributes: JSON.parse(row.attributes) as Record<string, unknown>,
	timezone: row.timezone,
	recipient_timezones: [...recipientZones(row.phone, row.timezone)],
	version: row.version,
	created_at: row.created_at,
	updated_at: row.updated_at,
});

export async function findLead(db: D1Database, accountId: string, id: string): Promise<LeadRow> {
	const row = await db
		.prepare(`SELECT ${LEAD_COLUMNS} FROM leads WHERE id = ? AND account_id = ?`)
		.bind(id, accountId)
		.first<LeadRow>();
	if (!row) throw notFound("Lead");
	return row;
}

const create = route({
	method: "POST",
	path: "/api/telesales/campaigns/:id/leads",
	summary: "Add a lead; a phone already in the campaign is a 409 naming the existing lead.",
	tags,
	body: LeadBody,
	idempotent: true,
	responses: {
		201: { description: "Lead", schema: Lead, headers: ["ETag", "Location"] },
		409: { description: "Phone already in this campaign; `existing_id` names that lead" },
	},
	async handler(c) {
		const { env, principal, params, body, request } = c;
		const campaign = await findCampaign(env.DB, principal.accountId, params);
		const phone = requirePhone(body.phone, principal.defaultRegion, "phone");
		const now = nowIso();
		let id: string;
		try {
			({ id } = await createOnce(c, "lead", crypto.randomUUID(), (id) => [
				env.DB.prepare(
					`INSERT INTO leads (id, account_id, campaign_id, phone, name, email, status, notes, attributes, timezone, created_at, updated_at)
					 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				).bind(
					id,
					principal.accountId,
					campaign.id,
					phone,
					body.name,
					body.email,
					body.status,
					body.notes,
					JSON.stringify(body.attributes),
					body.timezone,
					now,
					now,
				),
			]));
		} catch (error) {
			if (!isUniqueViolation(error)) throw error;
			const existing = await env.DB.prepare("SELECT id FROM leads WHERE campaign_id = ? AND phone = ?")
				.bind(campaign.id, phone)
				.first<{ id: string }>();
			throw new ApiError(409, "A lead with this phone already exists in this campaign.", undefined, undefined, {
				existing_id: existing?.id,
			});
		}
		const row = await findLead(env.DB, principal.accountId, id);
		return resourceResponse(request, presentLead(row), row.version, {
			status: 201,
			headers: { Location: `/api/telesales/leads/${id}` },
		});
	},
});

const list = route({
	method: "GET",
	path: "/api/telesales/campaigns/:id/leads",
	summary: "A campaign's leads, optionally by status.",
	tags,
	query: LeadListQuery,
	responses: { 200: { description: "A page of leads", schema: pageOf(Lead) } },
	async handler({ env, principal, params, query }) {
		const campaign = await findCampaign(env.DB, principal.accountId, params);
		// Two spellings, not `(? IS NULL OR status = ?)`: only a plain `status = ?` lets SQLite
		// page through leads_by_status instead of sorting every lead of the campaign.
		const { rows, next_cursor } = await pageOfRows<LeadRow>(
			env.DB,
			query.status
				? `SELECT ${LEAD_COLUMNS} FROM leads WHERE campaign_id = ? AND status = ?`
				: `SELECT ${LEAD_COLUMNS} FROM leads WHERE campaign_id = ?`,
			query.status ? [campaign.id, query.status] : [campaign.id],
			query,
		);
		return Response.json({ data: rows.map(presentLead), next_cursor });
	},
});

const get = route({
	method: "GET",
	path: "/api/telesales/leads/:id",
	summary: "One lead, with its ETag.",
	tags,
	headers: ["If-None-Match"],
	responses: { 200: { description: "Lead", schema: Lead, headers: ["ETag"] }, 304: { description: "Not modified" } },
	async handler({ env, principal, params, request }) {
		const row = await findLead(env.DB, principal.accountId, uuidParam(params, "id", "Lead"));
		return resourceResponse(request, presentLead(row), row.version);
	},
});

const patch = route({
	method: "PATCH",
	path: "/api/telesales/leads/:id",
	summary:
		"Change a lead; with If-Match, only if unchanged since that GET. Takes back the GET representation: `id`, `campaign_id`, `phone`, `version` and timestamps may be sent (ignored when they match; other values are a 422), and the derived `recipient_timezones` (ignored).",
	tags,
	body: LeadPatchBody,
	headers: ["If-Match"],
	responses: {
		200: { description: "Lead", schema: Lead, headers: ["ETag"] },
		412: { description: "Changed since the If-Match ETag" },
	},
	async handler({ env, principal, params, body, request }) {
		const current = await findLead(env.DB, principal.accountId, uuidParam(params, "id", "Lead"));
		// The number as GET shows it, or as the client wrote it: either names the lead's phone.
		const phone = body.phone === undefined ? undefined : (toE164(body.phone, principal.defaultRegion) ?? body.phone);
		const { attributes, ...rest } = takeBack(
			{ ...body, phone },
			{ id: current.id, campaign_id: current.campaign_id, phone: current.phone },
			["recipient_timezones"],
		);
		const row = await updateVersioned<LeadRow>(env.DB, {
			table: "leads",
			id: current.id,
			accountId: principal.accountId,
			expected: expectedVersion(request),
			set: { ...rest, ...(attributes === undefined ? {} : { attributes: JSON.stringify(attributes) }) },
			now: nowIso(),
		});
		return resourceResponse(request, presentLead(row), row.version);
	},
});

export const leadRoutes: Route[] = [create, list, get, patch];
