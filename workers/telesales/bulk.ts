import type { z } from "zod";
import type { Principal } from "../auth/principal";
import { CsvImportQuery, MAX_CSV_BYTES, MAX_CSV_ROWS } from "../http/csv";
import { invalidFields } from "../http/errors";
import { createOnce } from "../idempotency/create-once";
import { mapColumns, planCsvImport } from "../lib/csv-import";
import { fieldwise } from "../lib/field-check";
import {
	type CheckedRow,
	checkRow,
	invalidRowErrors,
	planImport,
	type RowOutcome,
	settleRaces,
	summarise,
} from "../lib/import-plan";
import { settleImport } from "../lib/import-settle";
import { type Cell, columnsOf, type PositionalChunk, PositionalChunks, selectInChunks } from "../lib/json-rows";
import { orderedIds } from "../lib/ordered-ids";
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

/** The campaign's leads with these phones: who holds each phone an import could not take. */
async function existingPhones(db: D1Database, campaignId: string, phones: string[]): Promise<Map<string, string>> {
	const rows = await selectInChunks<{ phone: string; id: string }>(db, phones, (json) =>
		db
			.prepare("SELECT phone, id FROM leads WHERE campaign_id = ? AND phone IN (SELECT value FROM json_each(?))")
			.bind(campaignId, json),
	);
	return new Map(rows.map((row) => [row.phone, row.id]));
}

/**
 * One insert of a chunk of leads (`storedLead` arrays, positional: SQLite reads each row
 * without looking up keys; columns the chunk shares are bound once); a phone the campaign has
 * already is skipped. No RETURNING: D1's per-statement `changes` says whether every row went
 * in (settleImport), and 100,000 ids back cost more than the lookup a short statement needs.
 */
function insertLeads(db: D1Database, principal: Principal, campaignId: string, now: string) {
	return (chunk: PositionalChunk) => {
		const { expressions, binds } = columnsOf(chunk, 5);
		const [id, phone, name, email, status, notes, attributes, timezone] = expressions;
		return db
			.prepare(
				`INSERT INTO leads (id, account_id, campaign_id, phone, name, email, status, notes, attributes, timezone, created_at, updated_at)
				 SELECT ${id}, ?1, ?2, ${phone}, ${name}, ${email}, ${status}, ${notes}, ${attributes}, ${timezone}, ?3, ?3
				   FROM json_each(?4) WHERE true
				 ON CONFLICT (campaign_id, phone) DO NOTHING`,
			)
			.bind(principal.accountId, campaignId, now, chunk.json, ...binds);
	};
}

const storedLead = (lead: z.infer<typeof LeadBody>, id: string): Cell[] => [
	id,
	lead.phone,
	lead.name,
	lead.email,
	lead.status,
	lead.notes,
	JSON.stringify(lead.attributes),
	lead.timezone,
];

const LEAD_COLUMNS = ["phone", "name", "email", "status", "notes", "timezone"] as const;

const LEADS_CSV = `A header row, then one lead per record (RFC 4180: CRLF or LF, "quoted" fields with "" for a quote, an optional UTF-8 BOM, blank lines skipped; UTF-8 only). Columns: ${LEAD_COLUMNS.join(", ")} (any case) and attributes.<name> for one attribute each; phone is required, any other column is a 422 naming it. An empty cell is an absent field (its default). Up to ${MAX_CSV_ROWS} rows (${MAX_CSV_BYTES} bytes); the report's \`row\` counts data records from 0 and \`line\` is the file line a record starts on (the header is line 1). A record with another field count than the header is an invalid row. \`atomic\` is a query parameter. Malformed CSV (an unclosed quote) is a 400 and stores nothing.`;

const bulkImport = route({
	method: "POST",
	path: "/api/telesales/campaigns/:id/leads/bulk-import",
	summary: `Import up to ${MAX_IMPORT_ROWS} leads at once as JSON, or ${MAX_CSV_ROWS} as text/csv, with a per-row report (created, duplicate, invalid). With "atomic" (the body's field, or ?atomic=true for CSV) any invalid row rejects the whole import.`,
	tags,
	body: BulkImportBody,
	csvBody: { description: LEADS_CSV },
	query: CsvImportQuery,
	maxBodyBytes: 8 * 1024 * 1024,
	idempotent: true,
	responses: { 201: { description: "Per-row report", schema: BulkImportReport } },
	async handler(c) {
		const { env, principal, params, body, query, csv } = c;
		const campaign = await findCampaign(env.DB, principal.accountId, params);
		const now = nowIso();
		const insert = insertLeads(env.DB, principal, campaign.id, now);
		const { plan, statements, sizes } = csv
			? await planCsvImport(
					csv.stream,
					{
						schema: LeadBody,
						field: "leads",
						columns: (header) => mapColumns(header, LEAD_COLUMNS),
						insert,
						stored: storedLead,
					},
					{ region: principal.defaultRegion, atomic: query.atomic === "true" },
				)
			: planJson(body, principal.defaultRegion, insert);
		// The report is stored for a keyed request's replay only: nothing else reads it, and a
		// 100,000-row report is 11 MB of D1 writes.
		const keyed = c.idempotency !== undefined;
		// A phone the campaign has already, or that a concurrent import takes first, is skipped
		// on the unique index instead of failing the import: those rows are duplicates of its lead.
		const { id, existed, results } = await createOnce(c, "lead_import", crypto.randomUUID(), (id) => [
			...statements,
			...(keyed ? reportParts(summarise(plan).rows) : []).map((part, n) =>
				env.DB.prepare("INSERT INTO lead_imports (id, account_id, campaign_id, report, created_at) VALUES (?, ?, ?, ?, ?)").bind(
					partId(id, n),
					principal.accountId,
					campaign.id,
					part,
					now,
				),
			),
		]);
		if (existed) {
			// An earlier attempt with this key committed: its stored plan, settled against what went in.
			return Response.json(await settledReport(env.DB, campaign.id, await storedRows(env.DB, id)), { status: 201 });
		}
		const settled = await settleImport(plan, { sizes, results: results.slice(0, statements.length) }, (phones) =>
			existingPhones(env.DB, campaign.id, phones),
		);
		const report = summarise(settled);
		if (settled === plan || !keyed) return Response.json(report, { status: 201 });
		await env.DB.batch(
			reportParts(report.rows).map((part, n) =>
				env.DB.prepare("UPDATE lead_imports SET report = ? WHERE id = ?").bind(part, partId(id, n)),
			),
		).catch((error: unknown) =>
			// The stored plan is settled again whenever it is read.
			console.warn("lead import report update failed", error instanceof Error ? error.message : String(error)),
		);
		return Response.json(report, { status: 201 });
	},
});

function planJson(body: z.infer<typeof BulkImportBody>, region: string, insert: (chunk: PositionalChunk) => D1PreparedStatement) {
	const quick = fieldwise(LeadBody);
	const checked = body.leads.map((raw) => checkRow(raw, region, LeadBody, quick));
	if (body.atomic) rejectInvalidRows(checked);
	const plan = planImport(checked, new Map(), orderedIds());
	const inserts = new PositionalChunks(insert);
	for (const lead of plan.creates) inserts.add(storedLead(lead, lead.id));
	return { plan, ...inserts.done() };
}

/**
 * A stored report's rows, in parts of this many (one D1 value stays well under its 2 MB cap:
 * a 100,000-row CSV import's report is about 9 MB). Part 0 has the import's id, part n the
 * id `<id>/n`; every part is `{"rows": [...]}`.
 */
const REPORT_ROWS_PER_PART = 10_000;

const partId = (id: string, n: number) => (n === 0 ? id : `${id}/${n}`);

function reportParts(rows: RowOutcome[]): string[] {
	const parts: string[] = [];
	for (let start = 0; start === 0 || start < rows.length; start += REPORT_ROWS_PER_PART) {
		parts.push(JSON.stringify({ rows: rows.slice(start, start + REPORT_ROWS_PER_PART) }));
	}
	return parts;
}

async function storedRows(db: D1Database, id: string): Promise<RowOutcome[]> {
	const { results } = await db
		.prepare("SELECT id, report FROM lead_imports WHERE id = ?1 OR id LIKE ?1 || '/%'")
		.bind(id)
		.all<{ id: string; report: string }>();
	const part = (row: { id: string }) => Number(row.id.split("/")[1] ?? 0);
	return results.sort((a, b) => part(a) - part(b)).flatMap((row) => (JSON.parse(row.report) as { rows: RowOutcome[] }).rows);
}

/** A stored import report as it turned out: planned creates that did not go in are duplicates of the winner. */
async function settledReport(db: D1Database, campaignId: string, rows: RowOutcome[]) {
	const plan = {
		rows,
		creates: rows.flatMap((row) => (row.result === "created" ? [{ id: row.id, phone: row.phone }] : [])),
	};
	const results = await selectInChunks<{ id: string }>(
		db,
		plan.creates.map((create) => create.id),
		(json) =>
			db.prepare("SELECT id FROM leads WHERE campaign_id = ? AND id IN (SELECT value FROM json_each(?))").bind(campaignId, json),
	);
	const inserted = new Set(results.map((row) => row.id));
	const lost = plan.creates.filter((create) => !inserted.has(create.id));
	const winners = lost.length
		? await existingPhones(
				db,
				campaignId,
				lost.map((create) => create.phone),
			)
		: new Map<string, string>();
	return summarise(settleRaces(plan, new Set(lost.map((create) => create.id)), winners));
}

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

/**
 * By the account's leads, not `account_id = ? AND lead_id IN …`: with both, SQLite goes through
 * every disposition of the account (dispositions_call) instead of dispositions_lead.
 */
export const DELETE_DISPOSITIONS_OF_LEADS =
	"DELETE FROM dispositions WHERE lead_id IN (SELECT id FROM leads WHERE account_id = ? AND id IN (SELECT value FROM json_each(?)))";

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
			env.DB.prepare(DELETE_DISPOSITIONS_OF_LEADS).bind(principal.accountId, JSON.stringify(ids)),
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
