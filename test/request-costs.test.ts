import { env } from "cloudflare:workers";
import { afterAll, describe, expect, it } from "vitest";
import { AccountEvents } from "../durable-objects/account-events";
import { CallDispatcher } from "../durable-objects/call-dispatcher";
import { CampaignPacer } from "../durable-objects/campaign-pacer";
import { ContactLedger } from "../durable-objects/contact-ledger";
import { DialerSimulator } from "../durable-objects/dialer-simulator";
import { IdempotencyStore } from "../durable-objects/idempotency-store";
import { TokenGuard } from "../durable-objects/token-guard";
import { dialerCallback, seedPayload } from "./campaign-helpers";
import { call, callJson, pbxAccount } from "./helpers";

/**
 * What each request class costs in D1 and Durable Object round trips, counted at the methods
 * themselves: a D1 `run`/`first`/`all`/`raw` is one round trip and one statement, a `batch`
 * one round trip and its statements; every call of a Durable Object's method (RPC or alarm)
 * is one. "Before the answer" is what the client waits for; "in all" adds what the request
 * set off (waitUntil, the alarms it armed) until nothing moved for 300 ms. docs/scaling.md
 * rests on the table this prints; the budgets asserted are the ones that document promises.
 */
type Count = { d1: number; statements: number; objects: Record<string, number> };
const counts: Count = { d1: 0, statements: 0, objects: {} };
const snapshot = (): Count => ({ ...counts, objects: { ...counts.objects } });
const doCalls = (c: Count) => Object.values(c.objects).reduce((a, b) => a + b, 0);
const diff = (a: Count, b: Count): Count => ({
	d1: b.d1 - a.d1,
	statements: b.statements - a.statements,
	objects: Object.fromEntries(
		Object.entries(b.objects)
			.map(([k, v]) => [k, v - (a.objects[k] ?? 0)] as const)
			.filter(([, v]) => v > 0),
	),
});

const restorers: (() => void)[] = [];
function patch(target: Record<string, unknown>, name: string, wrap: (original: (...args: unknown[]) => unknown) => unknown) {
	const original = target[name] as (...args: unknown[]) => unknown;
	target[name] = wrap(original);
	restorers.push(() => {
		target[name] = original;
	});
}
const statement = Object.getPrototypeOf(env.DB.prepare("SELECT 1")) as Record<string, unknown>;
for (const name of ["run", "first", "all", "raw"]) {
	patch(
		statement,
		name,
		(original) =>
			function (this: unknown, ...args: unknown[]) {
				counts.d1++;
				counts.statements++;
				return original.apply(this, args);
			},
	);
}
patch(
	Object.getPrototypeOf(env.DB) as Record<string, unknown>,
	"batch",
	(original) =>
		function (this: unknown, statements: unknown[]) {
			counts.d1++;
			counts.statements += statements.length;
			return original.call(this, statements);
		},
);
/** Each object's RPC methods and its alarm: its private helpers run inside a call, not as one. */
const entryPoints = {
	TokenGuard: [TokenGuard, ["admit", "forget", "hit", "refund", "alarm", "release", "renew", "connectionsInFlight", "usage"]],
	IdempotencyStore: [IdempotencyStore, ["begin", "complete", "release", "stored", "alarm"]],
	CallDispatcher: [CallDispatcher, ["enqueue", "alarm"]],
	CampaignPacer: [
		CampaignPacer,
		[
			"wake",
			"start",
			"configure",
			"pause",
			"resume",
			"cancel",
			"callEnded",
			"reconcile",
			"alarm",
			"view",
			"openCalls",
			"callLog",
			"unrecorded",
			"unsettled",
		],
	],
	AccountEvents: [AccountEvents, ["subscribe", "publish"]],
	ContactLedger: [ContactLedger, ["add", "takeListing", "remove", "find", "page", "claim", "settle"]],
	DialerSimulator: [DialerSimulator, ["place", "alarm"]],
} as const;
for (const [className, [cls, methods]] of Object.entries(entryPoints)) {
	const prototype = cls.prototype as unknown as Record<string, unknown>;
	for (const name of methods) {
		if (typeof prototype[name] !== "function") throw new Error(`${className}.${name} is not a method: update the list`);
		patch(
			prototype,
			name,
			(original) =>
				function (this: unknown, ...args: unknown[]) {
					const key = `${className}.${name}`;
					counts.objects[key] = (counts.objects[key] ?? 0) + 1;
					return original.apply(this, args);
				},
		);
	}
}
afterAll(() => {
	for (const restore of restorers.splice(0).reverse()) restore();
});

async function quiet() {
	let last = JSON.stringify(counts);
	for (;;) {
		await new Promise((resolve) => setTimeout(resolve, 300));
		const now = JSON.stringify(counts);
		if (now === last) return;
		last = now;
	}
}

const rows: string[] = [];
async function measure(name: string, send: () => Promise<Response>, expected?: (answered: Count, total: Count) => void) {
	await quiet();
	const start = snapshot();
	const response = await send();
	const answered = diff(start, snapshot());
	expect(response.status).toBeLessThan(300);
	await quiet();
	const total = diff(start, snapshot());
	const objects = (c: Count) =>
		Object.entries(c.objects)
			.map(([k, v]) => `${k} ${v}`)
			.join(", ");
	rows.push(
		`| ${name} | ${answered.d1} (${answered.statements}) | ${doCalls(answered)} | ${total.d1} (${total.statements}) | ${doCalls(total)} | ${objects(total)} |`,
	);
	expected?.(answered, total);
	return answered;
}

afterAll(() => {
	console.info(
		[
			"| request | D1 round trips (statements) before the answer | DO calls before the answer | D1 in all | DO calls in all | which objects, in all |",
			"| --- | ---: | ---: | ---: | ---: | --- |",
			...rows,
		].join("\n"),
	);
});

describe("what a request costs", () => {
	it("the request classes", { timeout: 120_000 }, async () => {
		const account = await pbxAccount();
		const token = account.token;
		await call("/api/auth/me", { token });
		await measure(
			"`GET /api/auth/me` (token's row cached)",
			() => call("/api/auth/me", { token }),
			(c) => {
				expect([c.d1, doCalls(c)]).toEqual([0, 1]);
			},
		);
		await measure("`GET /api/pbx/users`", () => call("/api/pbx/users", { token }));
		const click = { from_extension: "1001", to_phone: "0987654321" };
		await measure("click-to-call, no key", () => call("/api/pbx/calls/click-to-call", { token, body: click }));
		const key = crypto.randomUUID();
		await measure(
			"click-to-call, new Idempotency-Key",
			() => call("/api/pbx/calls/click-to-call", { token, body: click, headers: { "Idempotency-Key": key } }),
			(c) => {
				expect(c.d1).toBeLessThanOrEqual(2);
				expect(doCalls(c)).toBeLessThanOrEqual(5);
			},
		);
		await measure(
			"click-to-call, replay",
			() => call("/api/pbx/calls/click-to-call", { token, body: click, headers: { "Idempotency-Key": key } }),
			(c) => expect([c.d1, doCalls(c)]).toEqual([0, 2]),
		);
		const campaign = await callJson<{ id: string }>("/api/telesales/campaigns", { token, body: { name: "Costs" } });
		await measure("lead create, keyed", () =>
			call(`/api/telesales/campaigns/${campaign.body.id}/leads`, {
				token,
				body: { phone: "0987000001" },
				headers: { "Idempotency-Key": crypto.randomUUID() },
			}),
		);
		const leads = Array.from({ length: 1000 }, (_, i) => ({ phone: `09${String(20_000_000 + i).slice(-8)}` }));
		await measure("lead bulk import, 1,000 rows (JSON)", () =>
			call(`/api/telesales/campaigns/${campaign.body.id}/leads/bulk-import`, { token, body: { leads } }),
		);
		await measure(
			"do-not-call list, 1,000 numbers",
			() => call("/api/compliance/dnc", { token, body: { phones: leads.map((lead) => lead.phone) } }),
			(c) => expect([c.d1, doCalls(c)]).toEqual([0, 2]),
		);
		await measure(
			"do-not-call look-up (`?phone=`)",
			() => call("/api/compliance/dnc?phone=0987000001", { token }),
			(c) => expect([c.d1, doCalls(c)]).toEqual([0, 2]),
		);
		// One batch (claim, campaign, contacts, the policy), then admit, begin, the pacer's start, complete.
		await measure(
			"automated campaign create, 4 contacts, keyed",
			() =>
				call("/api/autocall/campaigns", {
					token,
					body: seedPayload({ contacts: ["0987100001", "0987100002", "0987100003", "0987100004"].map((phone) => ({ phone })) }),
					headers: { "Idempotency-Key": crypto.randomUUID() },
				}),
			(c) => expect([c.d1, c.statements, doCalls(c)]).toEqual([1, 5, 4]),
		);
		// One batch (claim, message, event, deliveries), then the simulated report's (event id,
		// update, event, deliveries): the message and the deliveries made are known from the
		// batches that wrote them, so nothing is read back. Counted in all: the report starts in
		// waitUntil before the answer leaves, so "before the answer" would count a race.
		await measure(
			"SMS, keyed",
			() =>
				call("/api/integrations/sms", {
					token,
					body: { to: "0987654321", text: "Your code is 1234" },
					headers: { "Idempotency-Key": crypto.randomUUID() },
				}),
			(_answered, total) => expect([total.d1, total.statements]).toEqual([2, 9]),
		);
		const placed = await callJson<{ id: string }>("/api/pbx/calls/click-to-call", { token, body: click });
		await quiet();
		await measure("dialer callback (call completed)", () =>
			dialerCallback({
				event_id: crypto.randomUUID(),
				call_id: placed.body.id,
				status: "completed",
				occurred_at: new Date().toISOString(),
				duration_seconds: 5,
			}),
		);
	});
});
