// Campaign engine benchmarks: slot refill latency, and many active campaigns at once with
// every invariant checked afterwards from the calls they recorded.
import { randomUUID } from "node:crypto";
import { api } from "./server.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (values, p) => {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const phone = (i) => `09${String(30_000_000 + i).slice(-8)}`;

function payload(name, contacts, pacing, scheduledAt = null) {
	return {
		name,
		agent_id: randomUUID(),
		contact_source: "inline",
		contacts,
		...(scheduledAt ? { schedule_type: "scheduled", scheduled_at: scheduledAt } : { schedule_type: "immediate" }),
		timezone: "UTC",
		start_time: "00:00",
		end_time: "23:59",
		working_days: [1, 2, 3, 4, 5, 6, 7],
		...pacing,
	};
}

async function allCalls(base, token, id) {
	const calls = [];
	let cursor = null;
	do {
		const page = await api(base, `/api/autocall/campaigns/${id}/calls?limit=100${cursor ? `&cursor=${cursor}` : ""}`, { token });
		calls.push(...page.body.data);
		cursor = page.body.next_cursor;
	} while (cursor);
	return calls;
}

async function waitForAll(base, token, ids, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	let pending = [...ids];
	while (pending.length && Date.now() < deadline) {
		const views = [];
		for (let i = 0; i < pending.length; i += 50) {
			views.push(
				...(await Promise.all(pending.slice(i, i + 50).map((id) => api(base, `/api/autocall/campaigns/${id}`, { token })))),
			);
		}
		// Settled: nothing in flight, and nothing left that may still start today.
		const settled = ({ body }) =>
			body.live.in_flight === 0 &&
			(body.live.contacts.pending === 0 || (body.max_calls_per_day !== null && body.live.calls_today >= body.max_calls_per_day));
		pending = pending.filter((_, i) => !settled(views[i]));
		if (pending.length) await sleep(1000);
	}
	return pending;
}

/** Calls in flight at each start (from recorded start/end), starts per UTC day, duplicate attempts. */
export function violations(calls, { max_concurrent_calls, max_calls_per_day }) {
	const problems = [];
	const attempts = new Set();
	const perDay = new Map();
	for (const call of calls) {
		const t = Date.parse(call.started_at);
		const open = calls.filter((o) => Date.parse(o.started_at) <= t && (o.ended_at === null || Date.parse(o.ended_at) > t)).length;
		if (open > max_concurrent_calls) problems.push(`in flight ${open} > ${max_concurrent_calls}`);
		const key = `${call.contact_id}#${call.attempt}`;
		if (attempts.has(key)) problems.push(`attempt dialled twice: ${key}`);
		attempts.add(key);
		const day = call.started_at.slice(0, 10);
		perDay.set(day, (perDay.get(day) ?? 0) + 1);
	}
	for (const [day, n] of perDay)
		if (max_calls_per_day !== null && n > max_calls_per_day) problems.push(`${n} calls on ${day} > ${max_calls_per_day}`);
	return problems;
}

export async function refillLatency(base, token, contacts = 30) {
	const created = await api(base, "/api/autocall/campaigns", {
		token,
		body: payload(
			"Refill",
			Array.from({ length: contacts }, (_, i) => phone(i)),
			{ max_concurrent_calls: 1 },
		),
	});
	const pending = await waitForAll(base, token, [created.body.id], 120_000);
	if (pending.length) throw new Error("refill campaign did not finish");
	const calls = (await allCalls(base, token, created.body.id)).sort(
		(a, b) => Date.parse(a.started_at) - Date.parse(b.started_at),
	);
	const gaps = calls.slice(1).map((call, i) => Date.parse(call.started_at) - Date.parse(calls[i].ended_at));
	return { calls: calls.length, p50: percentile(gaps, 50), p99: percentile(gaps, 99), max: Math.max(...gaps) };
}

/**
 * Creates `campaigns` campaigns from a pool of `inFlight` clients, each sending its next create as
 * soon as its last is answered: a CRM's many users do not wait for each other (the driver once
 * sent batches of 25 and waited for each batch's slowest answer). Every create has its own
 * Idempotency-Key, as a careful client's would.
 */
async function createMany(base, token, { campaigns, contactsEach, inFlight, pacing, scheduledAt = null, offset = 0 }) {
	const started = performance.now();
	const ids = [];
	const latencies = [];
	let next = 0;
	const client = async () => {
		while (next < campaigns) {
			const i = next++;
			const sent = performance.now();
			const response = await api(base, "/api/autocall/campaigns", {
				token,
				body: payload(
					`Load ${offset + i}`,
					Array.from({ length: contactsEach }, (_, k) => phone((offset + i) * contactsEach + k)),
					pacing,
					scheduledAt,
				),
				headers: { "Idempotency-Key": randomUUID() },
			});
			latencies.push(performance.now() - sent);
			if (response.status !== 201) throw new Error(`create: ${response.status} ${JSON.stringify(response.body)}`);
			ids[i] = response.body.id;
		}
	};
	await Promise.all(Array.from({ length: Math.min(inFlight, campaigns) }, client));
	return {
		ids,
		seconds: (performance.now() - started) / 1000,
		p50: percentile(latencies, 50),
		p99: percentile(latencies, 99),
	};
}

/**
 * The create path alone: campaigns scheduled for tomorrow, so no pacer dials while they are
 * created (each still gets its pacer, its first alarm and its D1 rows). Their phones are not the
 * ones manyCampaigns dials.
 */
export async function idleCreates(base, token, { campaigns = 1000, contactsEach = 4, inFlight = 25 } = {}) {
	const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
	const pacing = { max_concurrent_calls: 2, max_calls_per_day: 3 };
	const created = await createMany(base, token, {
		campaigns,
		contactsEach,
		inFlight,
		pacing,
		scheduledAt: tomorrow,
		offset: 500_000,
	});
	return { campaigns, createdIn: created.seconds, createP50: created.p50, createP99: created.p99 };
}

export async function manyCampaigns(
	base,
	token,
	{ campaigns = 1000, contactsEach = 4, inFlight = 25, pacing = { max_concurrent_calls: 2, max_calls_per_day: 3 } } = {},
) {
	const started = performance.now();
	const created = await createMany(base, token, { campaigns, contactsEach, inFlight, pacing });
	const { ids } = created;
	const createdIn = created.seconds;
	const unfinished = await waitForAll(base, token, ids, 600_000);
	const ranIn = (performance.now() - started) / 1000;
	let calls = 0;
	const problems = [];
	for (let i = 0; i < ids.length; i += 50) {
		const logs = await Promise.all(ids.slice(i, i + 50).map((id) => allCalls(base, token, id)));
		for (const log of logs) {
			calls += log.length;
			problems.push(...violations(log, pacing));
			if (log.length > pacing.max_calls_per_day)
				problems.push(`campaign placed ${log.length} calls, cap ${pacing.max_calls_per_day}`);
		}
	}
	return {
		campaigns,
		createdIn,
		createP50: created.p50,
		createP99: created.p99,
		ranIn,
		unfinished: unfinished.length,
		calls,
		problems,
	};
}
