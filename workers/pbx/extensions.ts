import type { z } from "zod";
import type { Principal } from "../auth/principal";
import { ApiError, invalidField, notFound } from "../http/errors";
import { expectedVersion, preconditionFailed, resourceResponse, updateVersioned, versionsParam } from "../http/etag";
import { PageQuery, pageOf, pageOfRows } from "../http/pagination";
import { takeBack } from "../http/representation";
import { noContent } from "../http/responses";
import { isUniqueViolation } from "../idempotency/claims";
import { requirePhone } from "../lib/phone";
import { nowIso } from "../lib/time";
import { type Route, route } from "../routing/route";
import { requireCallerId } from "./caller-ids";
import { Extension, ExtensionBody, ExtensionNumber, ExtensionPatch, ExtensionPutBody } from "./schemas";

const tags = ["pbx"];

export interface ExtensionRow {
	id: string;
	extension: string;
	name: string;
	user_id: string | null;
	caller_id: string | null;
	enabled: number;
	sip_uri: string | null;
	forward_to: string | null;
	version: number;
	created_at: string;
	updated_at: string;
}

/** The documented representation: explicit fields, so nothing the row gains (its account) leaks. */
const present = (row: ExtensionRow): z.infer<typeof Extension> => ({
	id: row.id,
	extension: row.extension,
	name: row.name,
	user_id: row.user_id,
	caller_id: row.caller_id,
	enabled: row.enabled === 1,
	sip_uri: row.sip_uri,
	forward_to: row.forward_to,
	version: row.version,
	created_at: row.created_at,
	updated_at: row.updated_at,
});

/**
 * Where a click-to-call from this extension rings the agent before bridging the customer: its
 * SIP URI, else its forwarding number, else nowhere (null) as documented on the Extension.
 */
export const agentLegOf = (extension: Pick<ExtensionRow, "sip_uri" | "forward_to">): string | null =>
	extension.sip_uri ?? extension.forward_to;

/** A forwarding number as stored: E.164, read in the account's region. */
const forwardTo = (principal: Principal, input: string | null) =>
	input === null ? null : requirePhone(input, principal.defaultRegion, "forward_to");

export function findExtension(db: D1Database, accountId: string, extension: string): Promise<ExtensionRow> {
	return extensionBy(db, accountId, extension, "SELECT * FROM extensions e");
}

/**
 * The extension a call is placed from, with what the call needs of the account's caller ids,
 * in one query: whether the extension's own caller id is still the account's (the number may
 * have been removed since the extension was saved), the account's default (chosen as
 * `defaultCallerId` does), and whether `askedCallerId`, the one a request names, is the account's.
 */
export function findCallingExtension(
	db: D1Database,
	accountId: string,
	extension: string,
	askedCallerId: string | null = null,
): Promise<ExtensionRow & { caller_id_held: number; default_caller_id: string | null; asked_caller_id_held: number }> {
	return extensionBy(
		db,
		accountId,
		extension,
		`SELECT e.*,
		        (e.caller_id IS NULL OR EXISTS (SELECT 1 FROM caller_ids c WHERE c.account_id = e.account_id AND c.number = e.caller_id)) AS caller_id_held,
		        (SELECT number FROM caller_ids c WHERE c.account_id = e.account_id ORDER BY is_default DESC, created_at, id LIMIT 1) AS default_caller_id,
		        (?3 IS NOT NULL AND EXISTS (SELECT 1 FROM caller_ids c WHERE c.account_id = e.account_id AND c.number = ?3)) AS asked_caller_id_held
		   FROM extensions e`,
		[askedCallerId],
	);
}

async function extensionBy<Row>(
	db: D1Database,
	accountId: string,
	extension: string,
	select: string,
	more: unknown[] = [],
): Promise<Row> {
	const row = ExtensionNumber.safeParse(extension).success
		? await db
				.prepare(`${select} WHERE e.account_id = ?1 AND e.extension = ?2`)
				.bind(accountId, extension, ...more)
				.first<Row>()
		: null;
	if (!row) throw notFound("Extension");
	return row;
}

/** A user id in the body must be a user of the caller's account. */
async function checkUser(db: D1Database, principal: Principal, userId: string | null) {
	if (userId === null) return;
	const user = await db.prepare("SELECT 1 FROM users WHERE id = ? AND account_id = ?").bind(userId, principal.accountId).first();
	if (!user) throw invalidField("user_id", "No such user in this account.");
}

const list = route({
	method: "GET",
	path: "/api/pbx/extensions",
	summary: "The account's extensions.",
	tags,
	query: PageQuery,
	responses: { 200: { description: "A page of extensions", schema: pageOf(Extension) } },
	async handler({ env, principal, query }) {
		const { rows, next_cursor } = await pageOfRows<ExtensionRow>(
			env.DB,
			`SELECT * FROM extensions WHERE account_id = ?`,
			[principal.accountId],
			query,
		);
		return Response.json({ data: rows.map(present), next_cursor });
	},
});

const create = route({
	method: "POST",
	path: "/api/pbx/extensions",
	summary: "Create an extension.",
	tags,
	body: ExtensionBody,
	responses: {
		201: { description: "Extension", schema: Extension, headers: ["ETag"] },
		409: { description: "Extension number taken" },
	},
	async handler({ env, principal, body, request }) {
		const forward = forwardTo(principal, body.forward_to);
		await checkUser(env.DB, principal, body.user_id);
		const callerId = body.caller_id === null ? null : await requireCallerId(env.DB, principal, body.caller_id);
		const now = nowIso();
		const row: ExtensionRow = {
			id: crypto.randomUUID(),
			...body,
			caller_id: callerId,
			forward_to: forward,
			enabled: body.enabled ? 1 : 0,
			version: 1,
			created_at: now,
			updated_at: now,
		};
		try {
			await env.DB.prepare(
				`INSERT INTO extensions (id, account_id, extension, name, user_id, caller_id, enabled, sip_uri, forward_to, version, created_at, updated_at)
				 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
			)
				.bind(
					row.id,
					principal.accountId,
					row.extension,
					row.name,
					row.user_id,
					row.caller_id,
					row.enabled,
					row.sip_uri,
					row.forward_to,
					now,
					now,
				)
				.run();
		} catch (error) {
			if (isUniqueViolation(error)) throw new ApiError(409, `Extension ${body.extension} already exists.`);
			throw error;
		}
		return resourceResponse(request, present(row), row.version, { status: 201 });
	},
});

const get = route({
	method: "GET",
	path: "/api/pbx/extensions/:extension",
	summary: "One extension, with its ETag (If-None-Match → 304).",
	tags,
	headers: ["If-None-Match"],
	responses: { 200: { description: "Extension", schema: Extension, headers: ["ETag"] }, 304: { description: "Not modified" } },
	async handler({ env, principal, params, request }) {
		const row = await findExtension(env.DB, principal.accountId, params.extension ?? "");
		return resourceResponse(request, present(row), row.version);
	},
});

const put = route({
	method: "PUT",
	path: "/api/pbx/extensions/:extension",
	summary:
		"Replace an extension; with If-Match, only if unchanged since that GET. Takes back the GET representation: `id`, `extension`, `version` and timestamps may be sent (ignored when they match; another id or number is a 422).",
	tags,
	body: ExtensionPutBody,
	headers: ["If-Match"],
	responses: {
		200: { description: "Extension", schema: Extension, headers: ["ETag"] },
		412: { description: "Changed since the If-Match ETag" },
	},
	async handler({ env, principal, params, body, request }) {
		const current = await findExtension(env.DB, principal.accountId, params.extension ?? "");
		const changes = takeBack(body, { id: current.id, extension: current.extension });
		// Every field: what the body leaves out takes its default, so a PUT replaces the whole extension.
		return writeExtension(env, principal, request, current, await storedColumns(env.DB, principal, changes));
	},
});

const patch = route({
	method: "PATCH",
	path: "/api/pbx/extensions/:extension",
	summary:
		"Change the fields sent (null clears sip_uri, forward_to, caller_id or user_id); with If-Match, only if unchanged since that GET. Takes back the GET representation like PUT.",
	tags,
	body: ExtensionPatch,
	headers: ["If-Match"],
	responses: {
		200: { description: "Extension", schema: Extension, headers: ["ETag"] },
		412: { description: "Changed since the If-Match ETag" },
	},
	async handler({ env, principal, params, body, request }) {
		const current = await findExtension(env.DB, principal.accountId, params.extension ?? "");
		const changes = takeBack(body, { id: current.id, extension: current.extension });
		return writeExtension(env, principal, request, current, await storedColumns(env.DB, principal, changes));
	},
});

/** The stored columns of the fields a write names, each checked (the user and caller id must be the account's). */
async function storedColumns(
	db: D1Database,
	principal: Principal,
	changes: Partial<{
		name: string;
		user_id: string | null;
		caller_id: string | null;
		enabled: boolean;
		sip_uri: string | null;
		forward_to: string | null;
	}>,
): Promise<Record<string, string | number | null>> {
	const set: Record<string, string | number | null> = {};
	if (changes.forward_to !== undefined) set.forward_to = forwardTo(principal, changes.forward_to);
	if (changes.sip_uri !== undefined) set.sip_uri = changes.sip_uri;
	if (changes.name !== undefined) set.name = changes.name;
	if (changes.enabled !== undefined) set.enabled = changes.enabled ? 1 : 0;
	if (changes.user_id !== undefined) {
		await checkUser(db, principal, changes.user_id);
		set.user_id = changes.user_id;
	}
	if (changes.caller_id !== undefined) {
		set.caller_id = changes.caller_id === null ? null : await requireCallerId(db, principal, changes.caller_id);
	}
	return set;
}

/** Writes over the version If-Match names (or any), and answers the extension as stored. */
async function writeExtension(
	env: Env,
	principal: Principal,
	request: Request,
	current: ExtensionRow,
	set: Record<string, string | number | null>,
): Promise<Response> {
	const row = await updateVersioned<ExtensionRow>(env.DB, {
		table: "extensions",
		id: current.id,
		accountId: principal.accountId,
		expected: expectedVersion(request),
		set,
		now: nowIso(),
	});
	return resourceResponse(request, present(row), row.version);
}

const remove = route({
	method: "DELETE",
	path: "/api/pbx/extensions/:extension",
	summary: "Delete an extension (If-Match honoured).",
	tags,
	headers: ["If-Match"],
	responses: { 204: { description: "Deleted" }, 412: { description: "Changed since the If-Match ETag" } },
	async handler({ env, principal, params, request }) {
		const current = await findExtension(env.DB, principal.accountId, params.extension ?? "");
		const versions = versionsParam(expectedVersion(request));
		const result = await env.DB.prepare(
			"DELETE FROM extensions WHERE id = ?1 AND (?2 IS NULL OR version IN (SELECT value FROM json_each(?2)))",
		)
			.bind(current.id, versions)
			.run();
		if (result.meta.changes === 0) throw preconditionFailed();
		return noContent();
	},
});

export const extensionRoutes: Route[] = [list, create, get, put, patch, remove];
