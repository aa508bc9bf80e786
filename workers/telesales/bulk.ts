import type { z } from "zod";
import type { Principal } from "../auth/principal";
import { invalidFields } from "../http/errors";
import { isUniqueViolation } from "../idempotency/claims";
import { createOnce } from "../idempotency/create-once";
import { type CheckedRow, checkRow, type ImportPlan, invalidRowErrors, planImport, summarise } from "../lib/import-plan";
import { statementsForRows } from "../lib/json-rows";
import { nowIso } from "../lib/time";
import { type Route, route } from "../routing/route";
import { findCampaign } from "./campaigns";
import {
	BulkDeleteBody,
	BulkImportBody,
	BulkImportReport,
	BulkPatchBody,
	BulkResult,
	LeadBody,
	MAX_IMPORT_ROWS,
} from "./schemas";

const tags = ["telesales"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A concurrent import can take a phone between our read and our write; replan that many times. */
const PLAN_ATTEMPTS = 3;

async function existingPhones(db: D1Database, campaignId: string, phones: string[]): Promise<Map<string, string>> {
	const { results } = await db
		.prepare("SELECT phone, id FROM leads WHERE campaign_id = ? AND phone IN (SELECT value FROM json_each(?))")
		.bind(campaignId, JSON.stringify(phones))
		.all<{ phone: string; id: string }>();
	return new Map(results.map((row) => [row.phone, row.id]));
}

function insertStatements(
	db: D1Database,
	principal: Principal,
	campaignId: string,
	plan: ImportPlan<z.infer<typeof LeadBody>>,
	now: string,
): D1PreparedStatement[] {
	const leads = plan.creates.map((lead) => ({ ...lead, attributes: JSON.stringify(lead.attributes) }));
	return statementsForRows(leads, (json) =>
		db
			.prepare(
				`INSERT INTO leads (id, account_id, campaign_id, phone, name, email, status, notes, attributes, created_at, updated_at)
				 SELECT value ->> '$.id', ?1, ?2, value ->> '$.phone', value ->> '$.name', value ->> '$.email', value ->> '$.status',
				        value ->> '$.notes', value ->> '$.attributes', ?3, ?3
				   FROM json_each(?4)`,
			)
			.bind(principal.accountId, campaignId, now, json),
	);
}

const bulkImport = route({
	method: "POST",
	path: "/api/telesales/campaigns/:id/leads/bulk-import",
	summary: `Import up to ${MAX_IMPORT_ROWS} leads at once, with a per-row report (created, duplicate, invalid). With "atomic": true any invalid row rejects the whole import.`,
	tags,
	body: BulkImportBody,
	maxBodyBytes: 8 * 1024 * 1024,
	idempotent: true,
	responses: { 201: { description: "Per-row report", schema: BulkImportReport } },
	async handler(c) {
		const { env, principal, params, body } = c;
		const campaign = await findCampaign(env.DB, principal.accountId, params);
		const checked = body.leads.map((raw) => checkRow(raw, principal.defaultRegion, LeadBody));
		if (body.atomic) rejectInvalidRows(checked);
		const phones = checked.flatMap((check) => ("value" in check ? [check.value.phone] : []));
		for (let attempt = 1; ; attempt++) {
			const plan = planImport(checked, await existingPhones(env.DB, campaign.id, phones));
			const report = summarise(plan);
			const now = nowIso();
			try {
				const { id, existed } = await createOnce(c, "lead_import", crypto.randomUUID(), (id) => [
					...insertStatements(env.DB, principal, campaign.id, plan, now),
					env.DB.prepare(
						"INSERT INTO lead_imports (id, account_id, campaign_id, report, created_at) VALUES (?, ?, ?, ?, ?)",
					).bind(id, principal.accountId, campaign.id, JSON.stringify(report), now),
				]);
				if (!existed) return Response.json(report, { status: 201 });
				const stored = await env.DB.prepare("SELECT report FROM lead_imports WHERE id = ?").bind(id).first<{ report: string }>();
				return new Response(stored?.report ?? "{}", { status: 201, headers: { "Content-Type": "application/json" } });
			} catch (error) {
				if (!isUniqueViolation(error) || attempt >= PLAN_ATTEMPTS) throw error;
			}
		}
	},
});

function rejectInvalidRows(checked: CheckedRow<unknown>[]) {
	const errors = invalidRowErrors(checked, "leads");
	const count = new Set(Object.keys(errors).map((key) => key.split(".")[1])).size;
	if (count) throw invalidFields(errors, `The given data was invalid: ${count} invalid rows; nothing was imported.`);
}

const bulkPatch = route({
	method: "PATCH",
	path: "/api/telesales/leads/bulk",
	summary: "Change up to 1,000 leads at once; per-item results.",
	tags,
	body: BulkPatchBody,
	maxBodyBytes: 2 * 1024 * 1024,
	responses: { 200: { description: "Per-item results", schema: BulkResult } },
	async handler({ env, principal, body }) {
		const now = nowIso();
		const statements = body.leads.flatMap(({ id, attributes, ...fields }) => {
			if (!UUID.test(id)) return [];
			const set: Record<string, string | null> = {
				...fields,
				...(attributes === undefined ? {} : { attributes: JSON.stringify(attributes) }),
			};
			const columns = Object.keys(set);
			return [
				env.DB.prepare(
					`UPDATE leads SET ${columns.map((column) => `${column} = ?, `).join("")}version = version + 1, updated_at = ?
					  WHERE id = ? AND account_id = ? RETURNING id`,
				).bind(...columns.map((column) => set[column] ?? null), now, id.toLowerCase(), principal.accountId),
			];
		});
		const updated = new Set(
			(statements.length ? await env.DB.batch<{ id: string }>(statements) : []).flatMap((r) => r.results.map((row) => row.id)),
		);
		return Response.json({
			results: body.leads.map(({ id }) => ({ id, result: updated.has(id.toLowerCase()) ? "updated" : "not_found" })),
		});
	},
});

const bulkDelete = route({
	method: "DELETE",
	path: "/api/telesales/leads/bulk",
	summary: "Delete up to 1,000 leads at once (with their dispositions); per-item results.",
	tags,
	body: BulkDeleteBody,
	responses: { 200: { description: "Per-item results", schema: BulkResult } },
	async handler({ env, principal, body }) {
		const ids = [...new Set(body.ids.filter((id) => UUID.test(id)).map((id) => id.toLowerCase()))];
		const [, deleted] = await env.DB.batch<{ id: string }>([
			env.DB.prepare("DELETE FROM dispositions WHERE account_id = ? AND lead_id IN (SELECT value FROM json_each(?))").bind(
				principal.accountId,
				JSON.stringify(ids),
			),
			env.DB.prepare("DELETE FROM leads WHERE account_id = ? AND id IN (SELECT value FROM json_each(?)) RETURNING id").bind(
				principal.accountId,
				JSON.stringify(ids),
			),
		]);
		const gone = new Set(deleted?.results.map((row) => row.id));
		return Response.json({
			results: body.ids.map((id) => ({ id, result: gone.has(id.toLowerCase()) ? "deleted" : "not_found" })),
		});
	},
});

export const bulkRoutes: Route[] = [bulkImport, bulkPatch, bulkDelete];
