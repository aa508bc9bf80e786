import type { z } from "zod";
import { handOver } from "../../durable-objects/call-dispatcher";
import { contactLedgerOf } from "../../durable-objects/contact-ledger";
import { dialsThroughCarrier } from "../dialer/dialer";
import { ApiError, invalidField, notFound } from "../http/errors";
import { pageOf, pageOfRows } from "../http/pagination";
import { uuidParam } from "../http/params";
import { findClaim } from "../idempotency/claims";
import { createOnce } from "../idempotency/create-once";
import { requirePhone } from "../lib/phone";
import { nowIso } from "../lib/time";
import { type Route, route } from "../routing/route";
import { NOT_A_CALLER_ID } from "./caller-ids";
import { agentLegOf, findCallingExtension } from "./extensions";
import { Call, CallListQuery, ClickToCallBody } from "./schemas";

const tags = ["pbx"];

export const ON_DO_NOT_CALL_LIST = "The number is on the do-not-call list.";

/** The public shape of a call row, shared by every route that lists calls. */
export const CALL_COLUMNS =
	"id, kind, campaign_id, contact_id, attempt, from_extension, to_phone, caller_id, status, outcome, created_at, updated_at, started_at, answered_at, ended_at, duration_seconds, failure_reason";

export async function findCall(db: D1Database, accountId: string, id: string) {
	const row = await db
		.prepare(`SELECT ${CALL_COLUMNS} FROM calls WHERE id = ? AND account_id = ?`)
		.bind(id, accountId)
		.first<z.infer<typeof Call>>();
	if (!row) throw notFound("Call");
	return row;
}

const clickToCall = route({
	method: "POST",
	path: "/api/pbx/calls/click-to-call",
	summary:
		"Ring an extension and connect it to a phone number. The call is queued for the dialer; one it cannot place within 60 s ends `failed` with a `failure_reason`. A number on the account's do-not-call list is a 409 and creates nothing.",
	tags,
	body: ClickToCallBody,
	idempotent: true,
	responses: {
		201: { description: "Call record", schema: Call, headers: ["Location"] },
		409: {
			description:
				"The extension is disabled, the number is on the do-not-call list (`The number is on the do-not-call list.`), or this Idempotency-Key's first request is still in flight (with Retry-After)",
		},
	},
	async handler(c) {
		const { env, principal, body } = c;
		const toPhone = requirePhone(body.to_phone, principal.defaultRegion, "to_phone");
		const askedCallerId = body.caller_id ? requirePhone(body.caller_id, principal.defaultRegion, "caller_id") : null;
		// The list is asked beside the extension's read, not after it: the check costs a round trip, not added latency.
		// A list that cannot be read fails the request (5xx, nothing created): a click-to-call never skips the check.
		const [extension, listed] = await Promise.all([
			findCallingExtension(env.DB, principal.accountId, body.from_extension, askedCallerId).catch((error: unknown) => {
				// Only a missing extension is the caller's mistake: a failed read must stay a 5xx (a 422 would be kept for the key).
				if (error instanceof ApiError && error.status === 404)
					throw invalidField("from_extension", "No such extension in this account.");
				throw error;
			}),
			contactLedgerOf(env, principal.accountId).find(toPhone),
		]);
		if (!extension.enabled) throw new ApiError(409, `Extension ${extension.extension} is disabled.`);
		// The extension's own caller id is checked again at dial time: the account may have removed that number since.
		if (!askedCallerId && !extension.caller_id_held) {
			throw invalidField(
				"from_extension",
				"The extension's caller id is no longer one of this account's caller ids: update the extension or send caller_id.",
			);
		}
		if (askedCallerId && !extension.asked_caller_id_held) throw invalidField("caller_id", NOT_A_CALLER_ID);
		const callerId = askedCallerId ?? extension.caller_id ?? extension.default_caller_id;
		const agentLeg = agentLegOf(extension);
		if (dialsThroughCarrier(env)) {
			// A carrier rings real phones: refuse now what it would refuse at dial time.
			if (!callerId) {
				throw invalidField("caller_id", "No caller id to call from: register one under /api/pbx/caller-ids or send caller_id.");
			}
			if (!agentLeg) {
				throw invalidField(
					"from_extension",
					`Extension ${extension.extension} has no sip_uri or forward_to to ring the agent on: set one of them first.`,
				);
			}
		}
		const now = nowIso();
		const created = listed
			? await earlierCall(c)
			: await createOnce(c, "call", crypto.randomUUID(), (id) => [
					env.DB.prepare(
						`INSERT INTO calls (id, account_id, kind, from_extension, to_phone, caller_id, status, created_at, updated_at)
				 VALUES (?, ?, 'click_to_call', ?, ?, ?, 'queued', ?, ?) RETURNING ${CALL_COLUMNS}`,
					).bind(id, principal.accountId, extension.extension, toPhone, callerId, now, now),
				]);
		const { id } = created;
		// An earlier attempt with this key created it: answer with the call as it is now.
		const call = created.existed
			? await findCall(env.DB, principal.accountId, id)
			: (created.results[0]?.results[0] as z.infer<typeof Call>);
		// Also when an earlier attempt created it: that one may have died before handing it over.
		// The dispatcher knows each call once, so it is dialled once whoever hands it over. Before
		// the answer, so a Worker that dies right after answering loses no time off the dial window.
		try {
			await handOver(env, { ...call, account_id: principal.accountId, agent_leg: agentLeg });
		} catch (error) {
			// The call is committed, so 201 is the truth, and a 5xx would only invite retries:
			// the cron backstop hands over what is still queued.
			console.error("click-to-call hand-over failed", id, error instanceof Error ? error.message : String(error));
		}
		return Response.json(call, { status: 201, headers: { Location: `/api/pbx/calls/${id}` } });
	},
});

/**
 * A click-to-call to a listed number creates nothing, unless an earlier attempt with the same
 * Idempotency-Key created it before the number was listed: once a keyed write has committed,
 * that call is the answer to every retry (commit once).
 */
async function earlierCall(c: Parameters<typeof createOnce>[0]): Promise<{ id: string; existed: true; results: D1Result[] }> {
	const earlier = c.idempotency ? await findClaim(c.env.DB, c.principal.accountId, c.idempotency) : null;
	if (earlier?.resource_type !== "call") throw new ApiError(409, ON_DO_NOT_CALL_LIST);
	return { id: earlier.resource_id, existed: true, results: [] };
}

const list = route({
	method: "GET",
	path: "/api/pbx/calls",
	summary: "The account's calls, oldest first (`order=desc`: newest first), optionally by status.",
	tags,
	query: CallListQuery,
	responses: { 200: { description: "A page of calls", schema: pageOf(Call) } },
	async handler({ env, principal, query }) {
		const { rows, next_cursor } = await pageOfRows<{ created_at: string; id: string }>(
			env.DB,
			`SELECT ${CALL_COLUMNS} FROM calls WHERE account_id = ? AND (? IS NULL OR status = ?)`,
			[principal.accountId, query.status ?? null, query.status ?? null],
			query,
		);
		return Response.json({ data: rows, next_cursor });
	},
});

const get = route({
	method: "GET",
	path: "/api/pbx/calls/:id",
	summary: "One call.",
	tags,
	responses: { 200: { description: "Call", schema: Call } },
	handler: async ({ env, principal, params }) =>
		Response.json(await findCall(env.DB, principal.accountId, uuidParam(params, "id", "Call"))),
});

export const callRoutes: Route[] = [clickToCall, list, get];
