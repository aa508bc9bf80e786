import { sha256Hex } from "../lib/crypto";
import { ApiError, notFound } from "./errors";

/** Versioned resources: the ETag is the row's version, so If-Match is a compare-and-set. */
export const versionTag = (version: number) => `"v${version}"`;

/**
 * A representation with live figures (a running campaign's counters) changes while its version
 * does not: its tag adds a digest of the body, so If-None-Match sees the progress. If-Match
 * reads only the version part, so a tag from GET still guards a write of the stored fields.
 */
export async function liveTag(version: number, body: unknown): Promise<string> {
	return `"v${version}-${(await sha256Hex(JSON.stringify(body))).slice(0, 16)}"`;
}

/**
 * The versions an `If-Match` accepts: undefined without the header, "any" for `*`, else the
 * versions of its strong tags (RFC 9110: any listed tag matches; a weak tag never does; a
 * live tag demands its version part). A tag this server never issued adds nothing, so a
 * header of only such tags accepts no version and the write fails.
 */
export type VersionMatch = readonly number[] | "any" | undefined;

export function expectedVersion(request: Request): VersionMatch {
	const header = request.headers.get("If-Match");
	if (header === null) return undefined;
	const tags = header.split(",").map((tag) => tag.trim());
	if (tags.includes("*")) return "any";
	return tags.flatMap((tag) => {
		const digits = /^"v(\d{1,15})(?:-[0-9a-f]+)?"$/.exec(tag)?.[1];
		return digits === undefined ? [] : [Number(digits)];
	});
}

export const matchesVersion = (match: VersionMatch, version: number) =>
	match === undefined || match === "any" || match.includes(version);

/**
 * The SQL parameter for `(?n IS NULL OR version IN (SELECT value FROM json_each(?n)))`: null
 * when any version will do.
 */
export const versionsParam = (match: VersionMatch) => (Array.isArray(match) ? JSON.stringify(match) : null);

export const preconditionFailed = () => new ApiError(412, "Resource has changed, please GET again.");

/** A GET of one resource: ETag always, 304 when the client's copy is current. */
export function resourceResponse(request: Request, data: unknown, version: number, init: ResponseInit = {}): Response {
	return taggedResponse(request, data, versionTag(version), init);
}

/** `resourceResponse` with a tag of the caller's making (see `liveTag`). */
export function taggedResponse(request: Request, data: unknown, etag: string, init: ResponseInit = {}): Response {
	const headers = new Headers(init.headers);
	headers.set("ETag", etag);
	if (request.method === "GET" && matchesNoneMatch(request, etag)) return new Response(null, { status: 304, headers });
	return Response.json(data, { ...init, headers });
}

/** Lists of slow-changing things (users, caller ids, queues): cacheable, revalidated by ETag. */
export async function cacheableResponse(request: Request, data: unknown): Promise<Response> {
	const body = JSON.stringify(data);
	const etag = `"${(await sha256Hex(body)).slice(0, 32)}"`;
	const headers = { ETag: etag, "Cache-Control": "private, max-age=60, must-revalidate" };
	if (matchesNoneMatch(request, etag)) return new Response(null, { status: 304, headers });
	return new Response(body, { headers: { ...headers, "Content-Type": "application/json" } });
}

/** If-None-Match compares weakly (RFC 9110 §13.1.2): `W/"v3"` matches `"v3"`. */
function matchesNoneMatch(request: Request, etag: string): boolean {
	const header = request.headers.get("If-None-Match");
	if (header === null) return false;
	const tags = header.split(",").map((tag) => tag.trim().replace(/^W\//, ""));
	return tags.includes("*") || tags.includes(etag);
}

export interface VersionedUpdate {
	table: string;
	id: string;
	accountId: string;
	expected: VersionMatch;
	/** Column → value; column names come from code, never from the request. */
	set: Record<string, string | number | null>;
	now: string;
}

/**
 * Applies the update only if the row still has the version the client saw: of concurrent
 * writers with the same If-Match exactly one wins, the rest get 412.
 */
export async function updateVersioned<Row>(db: D1Database, update: VersionedUpdate): Promise<Row> {
	const columns = Object.keys(update.set);
	const assignments = columns.map((column) => `${column} = ?`).join(", ");
	const versions = versionsParam(update.expected);
	const row = await db
		.prepare(
			`UPDATE ${update.table} SET ${assignments}${columns.length ? ", " : ""}version = version + 1, updated_at = ?
			  WHERE id = ? AND account_id = ? AND (? IS NULL OR version IN (SELECT value FROM json_each(?))) RETURNING *`,
		)
		.bind(...columns.map((column) => update.set[column] ?? null), update.now, update.id, update.accountId, versions, versions)
		.first<Row>();
	if (row) {
		const { account_id: _, ...rest } = row as Row & { account_id?: string };
		return rest as Row;
	}
	const exists = await db
		.prepare(`SELECT 1 FROM ${update.table} WHERE id = ? AND account_id = ?`)
		.bind(update.id, update.accountId)
		.first();
	throw exists ? preconditionFailed() : notFound();
}
