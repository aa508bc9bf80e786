import type { z } from "zod";
import { contactLedgerOf, type DncEntry } from "../../durable-objects/contact-ledger";
import { invalidFields, notFound } from "../http/errors";
import { decodeCursor, encodeCursor, pageOf } from "../http/pagination";
import { requirePhone, toE164 } from "../lib/phone";
import { type Route, route } from "../routing/route";
import { checkPhone, distinctPhones, dncReport, invalidRows } from "./dnc-report";
import { DoNotCallBody, DoNotCallEntry, DoNotCallListQuery, DoNotCallReport, MAX_DNC_PHONES } from "./dnc-schemas";

const tags = ["compliance"];
const PATH = "/api/compliance/dnc";

/** Field by field, so a column the ledger adds never leaks. */
const present = (entry: DncEntry): z.infer<typeof DoNotCallEntry> => ({
	phone: entry.phone,
	reason: entry.reason,
	source: entry.source,
	created_at: entry.created_at,
});

const add = route({
	method: "POST",
	path: PATH,
	summary: `List up to ${MAX_DNC_PHONES} numbers as not to be called, with a per-row report (added, duplicate, invalid). Campaign dials are checked against the list at the moment they go out, so a number listed now is skipped by every campaign from its next dial; a click-to-call to it is a 409. The valid rows are listed together or not at all.`,
	tags,
	body: DoNotCallBody,
	maxBodyBytes: 2 * 1024 * 1024,
	responses: { 201: { description: "Per-row report", schema: DoNotCallReport } },
	async handler({ env, principal, body }) {
		const checked = body.phones.map((raw) => checkPhone(raw, principal.defaultRegion));
		if (body.atomic) {
			const errors = invalidRows(checked);
			const count = Object.keys(errors).length;
			if (count) throw invalidFields(errors, `The given data was invalid: ${count} invalid rows; nothing was listed.`);
		}
		const added = await contactLedgerOf(env, principal.accountId).add(distinctPhones(checked), body.reason ?? null, "api");
		return Response.json(dncReport(checked, new Set(added)), { status: 201 });
	},
});

const list = route({
	method: "GET",
	path: PATH,
	summary:
		"The account's do-not-call list, oldest first; `?phone=` looks one number up in any format (a page with its entry, or an empty one).",
	tags,
	query: DoNotCallListQuery,
	responses: { 200: { description: "A page of listed numbers", schema: pageOf(DoNotCallEntry) } },
	async handler({ env, principal, query }) {
		const ledger = contactLedgerOf(env, principal.accountId);
		if (query.phone !== undefined) {
			const entry = await ledger.find(requirePhone(query.phone, principal.defaultRegion, "phone"));
			return Response.json({ data: entry ? [present(entry)] : [], next_cursor: null });
		}
		const after = decodeCursor(query.cursor);
		const entries = await ledger.page(query.limit + 1, after ? { created_at: after.created_at, phone: after.id } : null);
		const kept = entries.slice(0, query.limit);
		const last = kept.at(-1);
		const more = entries.length > query.limit && last !== undefined;
		return Response.json({
			data: kept.map(present),
			next_cursor: more ? encodeCursor({ created_at: last.created_at, id: last.phone }) : null,
		});
	},
});

const remove = route({
	method: "DELETE",
	path: `${PATH}/:phone`,
	summary:
		"Take a number off the do-not-call list (in any format the account's region reads; URL-encode a leading `+` as %2B). Campaigns may dial it again from their next dial.",
	tags,
	responses: { 204: { description: "Removed" } },
	async handler({ env, principal, params }) {
		const phone = pathPhone(params.phone, principal.defaultRegion);
		if (!phone || !(await contactLedgerOf(env, principal.accountId).remove(phone)))
			throw notFound("Number on the do-not-call list");
		return new Response(null, { status: 204 });
	},
});

/** A number in the path, which may come percent-encoded (`%2B84…`); a segment that is no number names nothing. */
function pathPhone(segment: string | undefined, region: string): string | null {
	if (!segment) return null;
	try {
		return toE164(decodeURIComponent(segment), region);
	} catch {
		return null;
	}
}

export const dncRoutes: Route[] = [add, list, remove];
