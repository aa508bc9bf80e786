import { handOverListing, type PendingListing, pendingListingStatement } from "../compliance/dnc-outbox";
import { ApiError, invalidField } from "../http/errors";
import { uuidParam } from "../http/params";
import { isUniqueViolation } from "../idempotency/claims";
import { nowIso } from "../lib/time";
import { type Route, route } from "../routing/route";
import { findLead } from "./leads";
import { Disposition, DispositionBody } from "./schemas";

/** What a call's outcome says about the lead. */
const LEAD_STATUS_AFTER: Record<string, string> = {
	sale: "won",
	not_interested: "lost",
	wrong_number: "unqualified",
	do_not_call: "do_not_call",
};

const record = route({
	method: "POST",
	path: "/api/telesales/leads/:id/dispositions",
	summary:
		"Record the outcome of a call to a lead: at most once per call (a second is a 409 naming the first). `do_not_call` also puts the lead's number on the account's do-not-call list (source `disposition`).",
	tags: ["telesales"],
	body: DispositionBody,
	responses: {
		201: { description: "Disposition", schema: Disposition },
		409: { description: "This call already has a disposition; `existing_id` names it" },
	},
	async handler({ env, principal, params, body }) {
		const lead = await findLead(env.DB, principal.accountId, uuidParam(params, "id", "Lead"));
		const call = await env.DB.prepare("SELECT 1 FROM calls WHERE id = ? AND account_id = ?")
			.bind(body.call_id, principal.accountId)
			.first();
		if (!call) throw invalidField("call_id", "No such call in this account.");
		const row = { id: crypto.randomUUID(), lead_id: lead.id, ...body, created_at: nowIso() };
		// Promised in the disposition's own transaction, so the number is listed even if the hand-over below fails.
		const listing: PendingListing | null =
			body.outcome === "do_not_call"
				? { id: row.id, account_id: principal.accountId, phone: lead.phone, reason: `Lead ${lead.id}` }
				: null;
		try {
			await env.DB.batch([
				env.DB.prepare(
					"INSERT INTO dispositions (id, account_id, lead_id, call_id, outcome, notes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
				).bind(row.id, principal.accountId, lead.id, body.call_id, body.outcome, body.notes, row.created_at),
				env.DB.prepare("UPDATE leads SET status = ?, version = version + 1, updated_at = ? WHERE id = ?").bind(
					LEAD_STATUS_AFTER[body.outcome] ?? "contacted",
					row.created_at,
					lead.id,
				),
				...(listing ? [pendingListingStatement(env.DB, listing, row.created_at)] : []),
			]);
		} catch (error) {
			if (!isUniqueViolation(error)) throw error;
			const first = await env.DB.prepare("SELECT id FROM dispositions WHERE account_id = ? AND call_id = ?")
				.bind(principal.accountId, body.call_id)
				.first<{ id: string }>();
			throw new ApiError(409, "This call already has a disposition.", undefined, undefined, { existing_id: first?.id });
		}
		if (listing) {
			// Before the answer, so a client that reads the list next finds the number; the cron hands over what fails here.
			await handOverListing(env, listing).catch((error: unknown) =>
				console.warn("do-not-call hand-over failed; the cron retries", error instanceof Error ? error.message : String(error)),
			);
		}
		return Response.json(row, { status: 201 });
	},
});

export const dispositionRoutes: Route[] = [record];
