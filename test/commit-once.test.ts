import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { type IdempotencyStore, idempotencyStoreName } from "../durable-objects/idempotency-store";
import { seedPayload } from "./campaign-helpers";
import { callJson, countRows, pbxAccount } from "./helpers";
import { failD1, failMethod, restoreFaults } from "./support/faults";

type Account = Awaited<ReturnType<typeof pbxAccount>>;

/** One keyed create: where it goes, what it sends, where its row lands, how it reads the row back. */
interface Flow {
	name: string;
	table: string;
	/** Absent where the create answers from what its batch wrote (a RETURNING row, the values it bound) and reads nothing back. */
	readBack?: RegExp;
	request(account: Account): Promise<{ path: string; body: unknown }>;
}

const flows: Flow[] = [
	{
		name: "click-to-call",
		table: "calls",
		request: async () => ({ path: "/api/pbx/calls/click-to-call", body: { from_extension: "1001", to_phone: "0987654321" } }),
	},
	{
		name: "autocall campaign",
		table: "autocall_campaigns",
		request: async () => ({ path: "/api/autocall/campaigns", body: seedPayload() }),
	},
	{
		name: "SMS",
		table: "sms_messages",
		request: async () => ({ path: "/api/integrations/sms", body: { to: "0987654321", text: "Your code is 1234" } }),
	},
	{
		name: "lead",
		table: "leads",
		readBack: /FROM leads WHERE id = \? AND account_id = \?/,
		async request(account) {
			const campaign = await callJson<{ id: string }>("/api/telesales/campaigns", {
				token: account.token,
				body: { name: "Spring" },
			});
			if (campaign.status !== 201) throw new Error(`campaign: ${campaign.status}`);
			return { path: `/api/telesales/campaigns/${campaign.body.id}/leads`, body: { phone: "0987000001" } };
		},
	},
];

const INTERNAL = { message: "Internal server error." };
const LOCK_LAPSED_MS = 31_000;

const recordOf = (accountId: string, key: string) =>
	env.IDEMPOTENCY.get(env.IDEMPOTENCY.idFromName(idempotencyStoreName(accountId, key)));

/** RPC dispatches to the class's methods, so faults go on the prototype (shared by every record). */
const recordPrototype = () =>
	runInDurableObject(
		recordOf("prototype", crypto.randomUUID()),
		(record: IdempotencyStore) => Object.getPrototypeOf(record) as IdempotencyStore,
	);

const lapseLock = (accountId: string, key: string) =>
	runInDurableObject(recordOf(accountId, key), (record: IdempotencyStore) => {
		record.clock = () => Date.now() + LOCK_LAPSED_MS;
	});

type GateState = "held" | "pass" | "fail";

interface Gate {
	pass(): void;
	fail(): void;
}

/** Polls rather than awaits: a promise resolved from another request's context never settles there. */
async function until(ready: () => boolean) {
	while (!ready()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/**
 * Holds the first `count` D1 batches containing `sql` until the test lets each pass (or
 * fail): a first attempt that is slow at its write, however long the test needs.
 */
function holdBatches(sql: string, count: number) {
	const prototype = Object.getPrototypeOf(env.DB) as { batch: (statements: { statement?: string }[]) => Promise<unknown> };
	const original = prototype.batch;
	const gates: { state: GateState }[] = [];
	let taken = 0;
	prototype.batch = async function (this: unknown, statements) {
		if (gates.length >= count || !statements.some((statement) => statement.statement?.includes(sql))) {
			return original.call(this, statements);
		}
		const gate = { state: "held" as GateState };
		gates.push(gate);
		await until(() => gate.state !== "held");
		if (gate.state === "fail") throw new Error("injected: the held batch failed");
		return original.call(this, statements);
	};
	restorers.push(() => {
		prototype.batch = original;
	});
	return {
		/** The next held batch, once its request reached it. */
		async next(): Promise<Gate> {
			const index = taken++;
			await until(() => gates.length > index);
			const gate = gates[index] as { state: GateState };
			return {
				pass: () => {
					gate.state = "pass";
				},
				fail: () => {
					gate.state = "fail";
				},
			};
		},
	};
}

const restorers: (() => void)[] = [];

afterEach(() => {
	for (const restore of restorers.splice(0)) restore();
	restoreFaults();
});

async function setUp(flow: Flow) {
	const account = await pbxAccount();
	const { path, body } = await flow.request(account);
	const key = crypto.randomUUID();
	const send = () => callJson<{ id: string }>(path, { token: account.token, body, headers: { "Idempotency-Key": key } });
	const rows = () => countRows(flow.table, "account_id = ?", account.id);
	const onlyId = async () => {
		const { results } = await env.DB.prepare(`SELECT id FROM ${flow.table} WHERE account_id = ?`)
			.bind(account.id)
			.all<{ id: string }>();
		expect(results).toHaveLength(1);
		return results[0]?.id;
	};
	/** A later copy of the request is a byte-for-byte replay of the committed resource. */
	const expectReplayOf = async (id: string | undefined) => {
		const replay = await send();
		expect(replay.status).toBe(201);
		expect(replay.response.headers.get("Idempotent-Replayed")).toBe("true");
		expect(replay.body.id).toBe(id);
	};
	return { account, key, send, rows, onlyId, expectReplayOf };
}

describe.each(flows)("commit once: keyed $name", (flow) => {
	it("the claim + insert batch fails: nothing is created, the retry creates one", async () => {
		const { send, rows, onlyId, expectReplayOf } = await setUp(flow);
		const fault = failD1("INSERT INTO idempotency_claims", { mode: "throw", times: 1 });
		const failed = await send();
		expect(fault.failed).toBe(1);
		expect(failed.status).toBe(500);
		expect(failed.body).toEqual(INTERNAL);
		expect(await rows()).toBe(0);

		const retry = await send();
		expect(retry.status).toBe(201);
		expect(retry.body.id).toBe(await onlyId());
		await expectReplayOf(retry.body.id);
	});

	it("the claim + insert batch commits and its answer is lost: the retry returns the same resource", async () => {
		const { send, rows, onlyId, expectReplayOf } = await setUp(flow);
		const fault = failD1("INSERT INTO idempotency_claims", { mode: "lose-answer", times: 1 });
		const failed = await send();
		expect(fault.failed).toBe(1);
		expect(failed.status).toBe(500);
		expect(failed.body).toEqual(INTERNAL);
		const committed = await onlyId();

		const retry = await send();
		expect(retry.status).toBe(201);
		expect(retry.response.headers.get("Idempotent-Replayed")).toBeNull();
		expect(retry.body.id).toBe(committed);
		expect(await rows()).toBe(1);
		await expectReplayOf(committed);
	});

	// Only creates that read their row back after the insert have this step to fail.
	const { readBack } = flow;
	if (readBack)
		it("reading the row back after the insert fails: 500, and the retry returns the committed resource", async () => {
			const { send, rows, onlyId, expectReplayOf } = await setUp(flow);
			const fault = failD1(readBack, { mode: "throw", times: 1 });
			const failed = await send();
			expect(fault.failed).toBe(1);
			expect(failed.status).toBe(500);
			expect(failed.body).toEqual(INTERNAL);
			const committed = await onlyId();

			const retry = await send();
			expect(retry.status).toBe(201);
			expect(retry.body.id).toBe(committed);
			expect(await rows()).toBe(1);
			await expectReplayOf(committed);
		});

	it("IdempotencyStore.begin fails: 500, nothing is created, the retry creates one", async () => {
		const { send, rows, onlyId, expectReplayOf } = await setUp(flow);
		failMethod(await recordPrototype(), "begin", { mode: "throw", times: 1 });
		const failed = await send();
		expect(failed.status).toBe(500);
		expect(failed.body).toEqual(INTERNAL);
		expect(await rows()).toBe(0);

		const retry = await send();
		expect(retry.status).toBe(201);
		expect(retry.body.id).toBe(await onlyId());
		await expectReplayOf(retry.body.id);
	});

	it("IdempotencyStore.begin takes the lock and its answer is lost: the retry runs once the lock lapses", async () => {
		const { account, key, send, rows, onlyId, expectReplayOf } = await setUp(flow);
		failMethod(await recordPrototype(), "begin", { mode: "lose-answer", times: 1 });
		const failed = await send();
		expect(failed.status).toBe(500);
		expect(failed.body).toEqual(INTERNAL);
		expect(await rows()).toBe(0);
		expect((await send()).status).toBe(409);

		await lapseLock(account.id, key);
		const retry = await send();
		expect(retry.status).toBe(201);
		expect(retry.body.id).toBe(await onlyId());
		await expectReplayOf(retry.body.id);
	});

	it("IdempotencyStore.complete fails: the client still gets its 201; a retry after the lock lapses gets the same resource", async () => {
		const { account, key, send, rows, expectReplayOf } = await setUp(flow);
		const fault = failMethod(await recordPrototype(), "complete", { mode: "throw", times: 1 });
		const first = await send();
		expect(fault.failed).toBe(1);
		expect(first.status).toBe(201);
		expect(await rows()).toBe(1);

		// Nothing was cached: the dead attempt holds its key until the lock lapses.
		expect((await send()).status).toBe(409);
		await lapseLock(account.id, key);
		const retry = await send();
		expect(retry.status).toBe(201);
		expect(retry.body.id).toBe(first.body.id);
		expect(await rows()).toBe(1);
		await expectReplayOf(first.body.id);
	});

	it("IdempotencyStore.complete stores the response and its answer is lost: the client gets its 201, retries replay it", async () => {
		const { send, rows, expectReplayOf } = await setUp(flow);
		const fault = failMethod(await recordPrototype(), "complete", { mode: "lose-answer", times: 1 });
		const first = await send();
		expect(fault.failed).toBe(1);
		expect(first.status).toBe(201);
		expect(await rows()).toBe(1);
		await expectReplayOf(first.body.id);
	});

	it("a first attempt slower than the lock: the retry takes over, and the late first attempt returns the retry's resource without overwriting its cached response", async () => {
		const { account, key, send, rows, onlyId, expectReplayOf } = await setUp(flow);
		const held = holdBatches("INSERT INTO idempotency_claims", 1);
		const slow = send();
		const firstWrite = await held.next();

		await lapseLock(account.id, key);
		const retry = await send();
		expect(retry.status).toBe(201);
		expect(retry.body.id).toBe(await onlyId());

		firstWrite.pass();
		const late = await slow;
		expect(late.status).toBe(201);
		expect(late.body.id).toBe(retry.body.id);
		expect(await rows()).toBe(1);
		await expectReplayOf(retry.body.id);
	});

	it("a first attempt slower than the lock that then fails cannot release the retry's lock", async () => {
		const { account, key, send, rows, onlyId, expectReplayOf } = await setUp(flow);
		const held = holdBatches("INSERT INTO idempotency_claims", 2);
		const slow = send();
		const firstWrite = await held.next();

		await lapseLock(account.id, key);
		const retrying = send();
		const retryWrite = await held.next();

		firstWrite.fail();
		const failed = await slow;
		expect(failed.status).toBe(500);
		expect(failed.body).toEqual(INTERNAL);
		// The retry still holds the key: a third copy must not run beside it.
		expect((await send()).status).toBe(409);

		retryWrite.pass();
		const retry = await retrying;
		expect(retry.status).toBe(201);
		expect(retry.body.id).toBe(await onlyId());
		expect(await rows()).toBe(1);
		await expectReplayOf(retry.body.id);
	});
});
