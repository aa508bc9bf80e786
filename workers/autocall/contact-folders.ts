import type { z } from "zod";
import { recipientZones } from "../compliance/recipient-zone";
import { CsvImportQuery, MAX_CSV_BYTES, MAX_CSV_ROWS } from "../http/csv";
import { invalidFields, notFound } from "../http/errors";
import { PageQuery, pageOf, pageOfRows } from "../http/pagination";
import { uuidParam } from "../http/params";
import { mapColumns, planCsvImport } from "../lib/csv-import";
import { fieldwise } from "../lib/field-check";
import { type CheckedRow, checkRow, invalidRowErrors, planImport, summarise } from "../lib/import-plan";
import { settleImport } from "../lib/import-settle";
import { type Cell, columnsOf, type PositionalChunk, PositionalChunks, selectInChunks } from "../lib/json-rows";
import { orderedIds } from "../lib/ordered-ids";
import { nowIso } from "../lib/time";
import { type Route, route } from "../routing/route";
import { BulkImportReport } from "../telesales/schemas";
import { Contact, ContactFolder, ContactFolderBody, ContactImportBody, ContactInput, MAX_CONTACTS } from "./schemas";

const CONTACT_COLUMNS = ["phone", "name", "timezone"] as const;

const CONTACTS_CSV = `A header row, then one contact per record (RFC 4180: CRLF or LF, "quoted" fields with "" for a quote, an optional UTF-8 BOM, blank lines skipped; UTF-8 only). Columns: phone (required), name, timezone (the recipient's IANA zone; any case); every other column is an attribute of that name (attributes.<name> works too). An empty cell is an absent field or attribute. Up to ${MAX_CSV_ROWS} rows (${MAX_CSV_BYTES} bytes); the report's \`row\` counts data records from 0 and \`line\` is the file line a record starts on (the header is line 1). A record with another field count than the header is an invalid row. \`atomic\` is a query parameter. Malformed CSV (an unclosed quote) is a 400 and stores nothing.`;

const tags = ["autocall"];

export async function findFolder(db: D1Database, accountId: string, id: string) {
	const row = await db
		.prepare("SELECT id, name, created_at FROM contact_folders WHERE id = ? AND account_id = ?")
		.bind(id, accountId)
		.first<{ id: string; name: string; created_at: string }>();
	if (!row) throw notFound("Contact folder");
	return row;
}

/** Contact rows may be a bare phone string or an object. */
export const asContactRow = (raw: unknown) => (typeof raw === "string" ? { phone: raw } : raw);

export function checkContacts(rows: unknown[], region: string): CheckedRow<z.infer<typeof ContactInput>>[] {
	const quick = fieldwise(ContactInput);
	return rows.map((raw) => checkRow(asContactRow(raw), region, ContactInput, quick));
}

export function rejectInvalidContacts(checked: CheckedRow<unknown>[], field: string) {
	const errors = invalidRowErrors(checked, field);
	if (Object.keys(errors).length) throw invalidFields(errors);
}

/** The folder's contacts with these phones: who holds each phone an import could not take. */
async function phonesInFolder(db: D1Database, folderId: string, phones: string[]): Promise<Map<string, string>> {
	const rows = await selectInChunks<{ phone: string; id: string }>(db, phones, (json) =>
		db
			.prepare("SELECT phone, id FROM contacts WHERE folder_id = ? AND phone IN (SELECT value FROM json_each(?))")
			.bind(folderId, json),
	);
	return new Map(rows.map((row) => [row.phone, row.id]));
}

interface ContactRow {
	id: string;
	phone: string;
	name: string;
	attributes: string;
	timezone: string | null;
	created_at: string;
}

/** Field by field, with the zones calls to the contact respect (derived when it has no timezone of its own). */
const presentContact = (row: ContactRow): z.infer<typeof Contact> => ({
	id: row.id,
	phone: row.phone,
	name: row.name,
	attributes: JSON.parse(row.attributes) as Record<string, unknown>,
	timezone: row.timezone,
	recipient_timezones: [...recipientZones(row.phone, row.timezone)],
	created_at: row.created_at,
});

/** Routes under one base: `/api/autocall/contact-folders` and its `/api/public/v1/` alias. */
export function contactFolderRoutes(base: string): Route[] {
	const create = route({
		method: "POST",
		path: base,
		summary: "Create a contact folder.",
		tags,
		body: ContactFolderBody,
		responses: { 201: { description: "Folder", schema: ContactFolder } },
		async handler({ env, principal, body }) {
			const row = { id: crypto.randomUUID(), name: body.name, contacts: 0, created_at: nowIso() };
			await env.DB.prepare("INSERT INTO contact_folders (id, account_id, name, created_at) VALUES (?, ?, ?, ?)")
				.bind(row.id, principal.accountId, row.name, row.created_at)
				.run();
			return Response.json(row, { status: 201 });
		},
	});

	const list = route({
		method: "GET",
		path: base,
		summary: "The account's contact folders.",
		tags,
		query: PageQuery,
		responses: { 200: { description: "A page of folders", schema: pageOf(ContactFolder) } },
		async handler({ env, principal, query }) {
			const { rows, next_cursor } = await pageOfRows<{ id: string; created_at: string }>(
				env.DB,
				`SELECT f.id, f.name, f.created_at, (SELECT count(*) FROM contacts c WHERE c.folder_id = f.id) AS contacts
				   FROM contact_folders f WHERE f.account_id = ?`,
				[principal.accountId],
				query,
				"f",
			);
			return Response.json({ data: rows, next_cursor });
		},
	});

	const get = route({
		method: "GET",
		path: `${base}/:id`,
		summary: "One contact folder with its contact count.",
		tags,
		responses: { 200: { description: "Folder", schema: ContactFolder } },
		async handler({ env, principal, params }) {
			const folder = await findFolder(env.DB, principal.accountId, uuidParam(params, "id", "Contact folder"));
			const count = await env.DB.prepare("SELECT count(*) AS n FROM contacts WHERE folder_id = ?")
				.bind(folder.id)
				.first<{ n: number }>();
			return Response.json({ ...folder, contacts: count?.n ?? 0 });
		},
	});

	const importContacts = route({
		method: "POST",
		path: `${base}/:id/contacts/bulk-import`,
		summary: `Import up to ${MAX_CONTACTS} contacts into a folder as JSON, or ${MAX_CSV_ROWS} as text/csv, with a per-row report; a phone already in the folder is a duplicate.`,
		tags,
		body: ContactImportBody,
		csvBody: { description: CONTACTS_CSV },
		query: CsvImportQuery,
		maxBodyBytes: 8 * 1024 * 1024,
		responses: { 201: { description: "Per-row report", schema: BulkImportReport } },
		async handler({ env, principal, params, body, query, csv }) {
			const folder = await findFolder(env.DB, principal.accountId, uuidParam(params, "id", "Contact folder"));
			const now = nowIso();
			// A phone the folder has already, or that a concurrent import takes first, is skipped
			// rather than failing the whole import on the unique index, then re-planned as a
			// duplicate (settleImport: no RETURNING, D1's per-statement counts say whether any was).
			// Rows travel as positional JSON arrays (`stored`).
			const insert = (chunk: PositionalChunk) => {
				const { expressions, binds } = columnsOf(chunk, 5);
				const [id, phone, name, attributes, timezone] = expressions;
				return env.DB.prepare(
					`INSERT INTO contacts (id, account_id, folder_id, phone, name, attributes, timezone, created_at)
					 SELECT ${id}, ?1, ?2, ${phone}, ${name}, ${attributes}, ${timezone}, ?3
					   FROM json_each(?4) WHERE true
					 ON CONFLICT (folder_id, phone) DO NOTHING`,
				).bind(principal.accountId, folder.id, now, chunk.json, ...binds);
			};
			const stored = (contact: z.infer<typeof ContactInput>, id: string): Cell[] => [
				id,
				contact.phone,
				contact.name,
				JSON.stringify(contact.attributes),
				contact.timezone ?? null,
			];
			const { plan, statements, sizes } = csv
				? await planCsvImport(
						csv.stream,
						{
							schema: ContactInput,
							field: "contacts",
							// Every column but phone and name is an attribute.
							columns: (header) => mapColumns(header, CONTACT_COLUMNS, (column) => column),
							insert,
							stored,
						},
						{ region: principal.defaultRegion, atomic: query.atomic === "true" },
					)
				: (() => {
						const checked = checkContacts(body.contacts, principal.defaultRegion);
						if (body.atomic) rejectInvalidContacts(checked, "contacts");
						const plan = planImport(checked, new Map(), orderedIds());
						const inserts = new PositionalChunks(insert);
						for (const contact of plan.creates) inserts.add(stored(contact, contact.id));
						return { plan, ...inserts.done() };
					})();
			const results = statements.length ? await env.DB.batch(statements) : [];
			const settled = await settleImport(plan, { sizes, results }, (phones) => phonesInFolder(env.DB, folder.id, phones));
			return Response.json(summarise(settled), { status: 201 });
		},
	});

	const listContacts = route({
		method: "GET",
		path: `${base}/:id/contacts`,
		summary: "A folder's contacts, each with its recipient's time zones.",
		tags,
		query: PageQuery,
		responses: { 200: { description: "A page of contacts", schema: pageOf(Contact) } },
		async handler({ env, principal, params, query }) {
			const folder = await findFolder(env.DB, principal.accountId, uuidParam(params, "id", "Contact folder"));
			const { rows, next_cursor } = await pageOfRows<ContactRow>(
				env.DB,
				`SELECT id, phone, name, attributes, timezone, created_at FROM contacts WHERE folder_id = ?`,
				[folder.id],
				query,
			);
			return Response.json({ data: rows.map(presentContact), next_cursor });
		},
	});

	return [create, list, get, importContacts, listContacts];
}
