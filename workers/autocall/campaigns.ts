import type { z } from "zod";
import { type CampaignRow, configFromRow } from "../../durable-objects/campaign/config";
import { parseClock } from "../../durable-objects/campaign/schedule";
import type { CampaignSeed, CampaignSnapshot } from "../../durable-objects/campaign-pacer";
import type { Principal } from "../auth/principal";
import { type ContactPolicyRow, policyFromRow, policyStatement } from "../compliance/contact-policy";
import { dialsThroughCarrier } from "../dialer/dialer";
import { validate } from "../http/body";
import { ApiError, invalidField, notFound } from "../http/errors";
import {
	expectedVersion,
	liveTag,
	matchesVersion,
	preconditionFailed,
	taggedResponse,
	updateVersioned,
	versionTag,
} from "../http/etag";
import { OrderedPageQuery, PageQuery, pageOf, pageOfRows } from "../http/pagination";
import { uuidParam } from "../http/params";
import { takeBack } from "../http/representation";
import { createOnce } from "../idempotency/create-once";
import { planImport } from "../lib/import-plan";
import { statementsForRows } from "../lib/json-rows";
import { requirePhone } from "../lib/phone";
import { nowIso } from "../lib/time";
import { defaultCallerId, NOT_A_CALLER_ID, requireCallerId } from "../pbx/caller-ids";
import { CALL_COLUMNS } from "../pbx/calls";
import { Call } from "../pbx/schemas";
import { type AuthedContext, type Route, route } from "../routing/route";
import { checkContacts, findFolder, rejectInvalidContacts } from "./contact-folders";
import { AutocallCampaign, CampaignSettings, CreateCampaignBody, MAX_CONTACTS, UpdateCampaignBody } from "./schemas";

const tags = ["autocall"];

interface StoredCampaign extends CampaignRow {
	name: string;
	agent_id: string;
	contact_source: "folder" | "inline";
	contact_folder_id: string | null;
	created_at: string;
	updated_at: string;
}

interface CampaignContact {
	id: string;
	phone: string;
	name: string;
	timezone: string | null;
}

export const pacerOf = (env: Env, campaignId: string) => env.CAMPAIGN_PACER.get(env.CAMPAIGN_PACER.idFromName(campaignId));

/** The settings a PATCH may change, as stored: what the patch is merged into. */
const settingsOf = (row: StoredCampaign): z.input<typeof CampaignSettings> => ({
	name: row.name,
	timezone: row.timezone,
	start_time: row.start_time,
	end_time: row.end_time,
	working_days: JSON.parse(row.working_days) as number[],
	max_concurrent_calls: row.max_concurrent_calls,
	max_calls_per_day: row.max_calls_per_day,
	retry_failed: row.retry_failed === 1,
	max_retry_attempts: row.max_retry_attempts,
	retry_delay_seconds: row.retry_delay_seconds,
	retry_on: configFromRow(row).retry.on.slice(),
	machine_detection: row.machine_detection === 1,
	caller_id: row.caller_id,
});

/** The documented representation: explicit fields, never the row (it holds the pacer's bookkeeping). */
function present(row: StoredCampaign, live?: CampaignSnapshot) {
	return {
		id: row.id,
		agent_id: row.agent_id,
		contact_source: row.contact_source,
		contact_folder_id: row.contact_folder_id,
		schedule_type: row.schedule_type,
		scheduled_at: row.scheduled_at,
		...settingsOf(row),
		status: live?.status ?? row.status,
		version: row.version,
		created_at: row.created_at,
		updated_at: row.updated_at,
		...(live
			? {
					live: {
						contacts: live.contacts,
						in_flight: live.in_flight,
						calls_today: live.calls_today,
						window_open: live.window_open,
						// While open, the next opening is "now": a body that changed on every read would defeat its ETag.
						next_opening_at: live.window_open ? null : live.next_opening_at,
						provider: live.provider,
					},
				}
			: {}),
	};
}

/**
 * The campaign with its live counters, under a tag that changes with them, so a client polling
 * with If-None-Match sees progress; If-Match reads the tag's version part only.
 */
async function campaignResponse(request: Request, row: StoredCampaign, live?: CampaignSnapshot, init: ResponseInit = {}) {
	const body = present(row, live);
	return taggedResponse(request, body, live ? await liveTag(row.version, body) : versionTag(row.version), init);
}

/**
 * A PATCH is valid only if the campaign it leaves is: a new end before the stored start is an
 * empty window, reported on the end the patch moved.
 */
function checkMerged(current: StoredCampaign, changes: Partial<z.input<typeof CampaignSettings>>) {
	const merged = validate(CampaignSettings, { ...settingsOf(current), ...changes });
	if (parseClock(merged.start_time) >= parseClock(merged.end_time)) {
		const field = changes.end_time === undefined ? "start_time" : "end_time";
		throw invalidField(
			field,
			`The window would be empty: start_time ${merged.start_time} is not before end_time ${merged.end_time} (windows do not cross midnight).`,
		);
	}
}

async function findCampaign(db: D1Database, principal: Principal, params: Record<string, string>): Promise<StoredCampaign> {
	const id = uuidParam(params, "id", "Campaign");
	const row = await db
		.prepare("SELECT * FROM autocall_campaigns WHERE id = ? AND account_id = ?")
		.bind(id, principal.accountId)
		.first<StoredCampaign>();
	if (!row) throw notFound("Campaign");
	return row;
}

/** The campaign's own copy of its contacts: inline ones (normalised, deduplicated) or the folder's as of now. */
async function contactsFor(c: AuthedContext<z.infer<typeof CreateCampaignBody>, undefined>): Promise<CampaignContact[]> {
	const { env, principal, body } = c;
	if (body.contact_source === "inline") {
		const checked = checkContacts(body.contacts ?? [], principal.defaultRegion);
		rejectInvalidContacts(checked, "contacts");
		return planImport(checked, new Map()).creates.map(({ id, phone, name, timezone }) => ({
			id,
			phone,
			name,
			timezone: timezone ?? null,
		}));
	}
	const folderId = body.contact_folder_id ?? "";
	await findFolder(env.DB, principal.accountId, folderId).catch(() => {
		throw invalidField("contact_folder_id", "No such contact folder in this account.");
	});
	const { results } = await env.DB.prepare(
		"SELECT phone, name, timezone FROM contacts WHERE folder_id = ? ORDER BY created_at, id",
	)
		.bind(folderId)
		.all<CampaignContact>();
	if (results.length === 0) throw invalidField("contact_folder_id", "The folder has no contacts.");
	return results.map((contact) => ({ ...contact, id: crypto.randomUUID() }));
}

function insertContacts(
	db: D1Database,
	accountId: string,
	campaignId: string,
	contacts: CampaignContact[],
): D1PreparedStatement[] {
	const rows = contacts.map((contact, position) => ({ ...contact, position }));
	return statementsForRows(rows, (json) =>
		db
			.prepare(
				`INSERT INTO campaign_contacts (id, campaign_id, account_id, phone, name, position, timezone)
				 SELECT value ->> '$.id', ?1, ?2, value ->> '$.phone', value ->> '$.name', value ->> '$.position', value ->> '$.timezone'
				   FROM json_each(?3)`,
			)
			.bind(campaignId, accountId, json),
	);
}

/**
 * The number a campaign's calls present: the one asked for (one of the account's), else the
 * account's default. A carrier also needs the account's agent platform to hand answered calls
 * to: what it would refuse at dial time is refused now, with a 422 that says what to set.
 */
async function campaignCallerId(env: Env, principal: Principal, asked: string | null): Promise<string | null> {
	if (!dialsThroughCarrier(env)) {
		return asked ? requireCallerId(env.DB, principal, asked) : defaultCallerId(env.DB, principal.accountId);
	}
	const number = asked ? requirePhone(asked, principal.defaultRegion, "caller_id") : null;
	// The number and the agent platform in one read.
	const found = await env.DB.prepare(
		`SELECT (SELECT number FROM caller_ids WHERE account_id = ?1 AND (?2 IS NULL OR number = ?2)
		          ORDER BY is_default DESC, created_at, id LIMIT 1) AS number,
		        (SELECT agent_answer_url FROM accounts WHERE id = ?1) AS agent_answer_url`,
	)
		.bind(principal.accountId, number)
		.first<{ number: string | null; agent_answer_url: string | null }>();
	if (!found?.number) {
		throw invalidField(
			"caller_id",
			asked ? NOT_A_CALLER_ID : "No caller id to call from: register one under /api/pbx/caller-ids or send caller_id.",
		);
	}
	if (!found.agent_answer_url) {
		throw new ApiError(
			422,
			"The account has no agent_answer_url to hand answered calls to: set it with PATCH /api/account before starting a campaign.",
		);
	}
	return found.number;
}

/** Routes under one base: `/api/autocall/campaigns` and its alias `/api/public/v1/batch-calls`. */
export function autocallCampaignRoutes(base: string): Route[] {
	const create = route({
		method: "POST",
		path: base,
		summary: "Create an automated call campaign (the seed's batch-call payload); it starts dialling when its window opens.",
		tags,
		body: CreateCampaignBody,
		maxBodyBytes: 4 * 1024 * 1024,
		idempotent: true,
		responses: { 201: { description: "Campaign with live counters", schema: AutocallCampaign, headers: ["ETag", "Location"] } },
		async handler(c) {
			const { env, principal, body, request } = c;
			// No number asked for and no carrier to check one for: the insert takes the account's default itself.
			const asked = body.caller_id ?? null;
			const callerId = asked || dialsThroughCarrier(env) ? await campaignCallerId(env, principal, asked) : null;
			const contacts = await contactsFor(c);
			const now = Date.now();
			const scheduledAt = body.schedule_type === "scheduled" && body.scheduled_at ? Date.parse(body.scheduled_at) : null;
			const status = scheduledAt !== null && scheduledAt > now ? "scheduled" : "active";
			const created = nowIso(now);
			const { id, existed, results } = await createOnce(c, "autocall_campaign", crypto.randomUUID(), (id) => [
				env.DB.prepare(
					`INSERT INTO autocall_campaigns (id, account_id, name, agent_id, contact_source, contact_folder_id, schedule_type, scheduled_at,
					   timezone, start_time, end_time, working_days, max_concurrent_calls, max_calls_per_day, retry_failed, max_retry_attempts,
					   retry_delay_seconds, retry_on, machine_detection, caller_id, status, created_at, updated_at)
					 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
					   coalesce(?20, (SELECT number FROM caller_ids WHERE account_id = ?2 ORDER BY is_default DESC, created_at, id LIMIT 1)),
					   ?21, ?22, ?22)
					 RETURNING *`,
				).bind(
					id,
					principal.accountId,
					body.name,
					body.agent_id,
					body.contact_source,
					body.contact_folder_id ?? null,
					body.schedule_type,
					scheduledAt === null ? null : nowIso(scheduledAt),
					body.timezone,
					body.start_time,
					body.end_time,
					JSON.stringify(body.working_days),
					body.max_concurrent_calls,
					body.max_calls_per_day,
					body.retry_failed ? 1 : 0,
					body.max_retry_attempts,
					body.retry_delay_seconds,
					JSON.stringify(body.retry_on),
					body.machine_detection ? 1 : 0,
					callerId,
					status,
					created,
				),
				...insertContacts(env.DB, principal.accountId, id, contacts),
				// The pacer's first load takes the account's contact policy from here too.
				policyStatement(env.DB, principal.accountId),
			]);
			// Written by this request: the response and the pacer's first load come from what was inserted.
			// Written by an earlier attempt with the key: both read what it committed.
			const inserted = existed ? undefined : results[0]?.results[0];
			const row = inserted ? (inserted as StoredCampaign) : await findCampaign(env.DB, principal, { id });
			// A folder's contacts beyond a request body's worth are read by the pacer from D1, not sent over RPC.
			const seed: CampaignSeed | null =
				inserted && contacts.length <= MAX_CONTACTS
					? {
							row,
							contacts: contacts.map(({ id, phone, timezone }, position) => ({ id, phone, position, timezone })),
							policy: policyFromRow(results.at(-1)?.results[0] as ContactPolicyRow | undefined),
						}
					: null;
			// The cron sweep wakes it too, should this fail (its D1 record has no wake time yet).
			const live = await pacerOf(env, id)
				.start(id, seed)
				.catch((error: unknown) => {
					console.error("campaign start failed", id, error instanceof Error ? error.message : String(error));
					return undefined;
				});
			return campaignResponse(request, row, live, { status: 201, headers: { Location: `${base}/${id}` } });
		},
	});

	const list = route({
		method: "GET",
		path: base,
		summary: "The account's automated campaigns.",
		tags,
		query: PageQuery,
		responses: { 200: { description: "A page of campaigns", schema: pageOf(AutocallCampaign) } },
		async handler({ env, principal, query }) {
			const { rows, next_cursor } = await pageOfRows<StoredCampaign>(
				env.DB,
				`SELECT * FROM autocall_campaigns WHERE account_id = ?`,
				[principal.accountId],
				query,
			);
			return Response.json({ data: rows.map((row) => present(row)), next_cursor });
		},
	});

	const get = route({
		method: "GET",
		path: `${base}/:id`,
		summary:
			"One campaign with live counters: contacts total/pending/done/skipped, in flight, calls today, window open, next opening. Its ETag (v<version>-<digest>) changes with the counters too, so If-None-Match answers 304 only while nothing changed.",
		tags,
		headers: ["If-None-Match"],
		responses: {
			200: { description: "Campaign", schema: AutocallCampaign, headers: ["ETag"] },
			304: { description: "Not modified" },
		},
		async handler({ env, principal, params, request }) {
			const row = await findCampaign(env.DB, principal, params);
			const live = await pacerOf(env, row.id).view(row.id);
			return campaignResponse(request, row, live);
		},
	});

	const patch = route({
		method: "PATCH",
		path: `${base}/:id`,
		summary:
			"Change pacing or the window, also while the campaign runs (raise max_concurrent_calls gradually); lowering a cap never ends a live call, and calls already started today still count against today's cap in a new time zone. The result of the merge is validated (an empty window is a 422). Takes back the GET representation: what the campaign was created with may be sent and must match, `status`, `live`, `version` and timestamps are ignored. If-Match takes the ETag from GET: only its version part is compared, so a change of live counters alone is no conflict.",
		tags,
		body: UpdateCampaignBody,
		headers: ["If-Match"],
		responses: {
			200: { description: "Campaign", schema: AutocallCampaign, headers: ["ETag"] },
			412: { description: "Changed since the If-Match ETag" },
		},
		async handler({ env, principal, params, body, request }) {
			let current = await findCampaign(env.DB, principal, params);
			const expected = expectedVersion(request);
			if (!matchesVersion(expected, current.version)) throw preconditionFailed();
			const changes = takeBack(
				body,
				{
					id: current.id,
					agent_id: current.agent_id,
					contact_source: current.contact_source,
					contact_folder_id: current.contact_folder_id,
					schedule_type: current.schedule_type,
					scheduled_at: current.scheduled_at,
				},
				["status", "live"],
			);
			const { working_days, retry_failed, retry_on, machine_detection, caller_id, ...rest } = changes;
			const set = {
				...rest,
				...(working_days ? { working_days: JSON.stringify(working_days) } : {}),
				...(retry_failed === undefined ? {} : { retry_failed: retry_failed ? 1 : 0 }),
				...(retry_on === undefined ? {} : { retry_on: JSON.stringify(retry_on) }),
				...(machine_detection === undefined ? {} : { machine_detection: machine_detection ? 1 : 0 }),
				// Sent back as GET showed it, the number is kept as is; another one is checked and resolved.
				...(caller_id === undefined || caller_id === current.caller_id
					? {}
					: { caller_id: await campaignCallerId(env, principal, caller_id) }),
			};
			let updated: StoredCampaign | undefined;
			for (let attempt = 1; !updated; attempt++) {
				checkMerged(current, changes);
				try {
					// Written only over the version the merge was checked against: a concurrent change
					// of the other end of the window cannot combine with this one into an empty window.
					updated = await updateVersioned<StoredCampaign>(env.DB, {
						table: "autocall_campaigns",
						id: current.id,
						accountId: principal.accountId,
						expected: [current.version],
						set,
						now: nowIso(),
					});
				} catch (error) {
					// Without If-Match the write proceeds: check the merge again against what is stored now.
					const raced = error instanceof ApiError && error.status === 412 && !Array.isArray(expected);
					if (!raced || attempt >= 5) throw error;
					current = await findCampaign(env.DB, principal, params);
				}
			}
			const row = { ...updated, account_id: principal.accountId };
			// The change is committed: a pacer that cannot be reached now gets it from the cron sweep
			// (its recorded config version is behind), so the answer is the stored campaign either way.
			const handOver = () => pacerOf(env, row.id).configure(row.id, configFromRow(row));
			const live = await handOver()
				.catch(handOver)
				.catch((error: unknown) => {
					console.error("campaign configure failed", row.id, error instanceof Error ? error.message : String(error));
					return undefined;
				});
			return campaignResponse(request, row, live);
		},
	});

	const action = (name: "pause" | "resume" | "cancel", summary: string) =>
		route({
			method: "POST",
			path: `${base}/:id/${name}`,
			summary,
			tags,
			idempotent: true,
			responses: {
				200: { description: "Campaign", schema: AutocallCampaign, headers: ["ETag"] },
				409: { description: `The campaign's status does not allow ${name}` },
			},
			async handler({ env, principal, params, request }) {
				const row = await findCampaign(env.DB, principal, params);
				const pacer = pacerOf(env, row.id);
				const result = await pacer[name](row.id);
				if (!result.ok) throw new ApiError(409, `Cannot ${name} a campaign that is ${result.status}.`);
				const fresh = await findCampaign(env.DB, principal, params);
				return campaignResponse(request, fresh, result.live);
			},
		});

	const calls = route({
		method: "GET",
		path: `${base}/:id/calls`,
		summary: "The calls this campaign placed, oldest first (`order=desc`: newest first).",
		tags,
		query: OrderedPageQuery,
		responses: { 200: { description: "A page of calls", schema: pageOf(Call) } },
		async handler({ env, principal, params, query }) {
			const campaign = await findCampaign(env.DB, principal, params);
			const { rows, next_cursor } = await pageOfRows<{ id: string; created_at: string }>(
				env.DB,
				`SELECT ${CALL_COLUMNS} FROM calls WHERE campaign_id = ? AND account_id = ?`,
				[campaign.id, principal.accountId],
				query,
			);
			return Response.json({ data: rows, next_cursor });
		},
	});

	return [
		create,
		list,
		get,
		patch,
		action("pause", "Pause: nothing new starts; calls in flight finish and are recorded."),
		action("resume", "Resume where it stopped (scheduled if its start is still ahead, else active)."),
		action("cancel", "Cancel for good; calls in flight finish and are recorded."),
		calls,
	];
}
