import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { CallDispatcher } from "../durable-objects/call-dispatcher";
import { ContactLedger } from "../durable-objects/contact-ledger";
import { callJson, countRows, pbxAccount } from "./helpers";
import { failD1, failMethod, restoreFaults } from "./support/faults";

afterEach(() => restoreFaults());

const LISTED = { message: "The number is on the do-not-call list." };

type Account = Awaited<ReturnType<typeof pbxAccount>>;

const clickToCall = (account: Account, toPhone: string, key?: string) =>
	callJson<{ id: string; to_phone: string }>("/api/pbx/calls/click-to-call", {
		token: account.token,
		body: { from_extension: "1001", to_phone: toPhone },
		headers: key ? { "Idempotency-Key": key } : {},
	});

const list = async (account: Account, phone: string) =>
	expect((await callJson("/api/compliance/dnc", { token: account.token, body: { phones: [phone] } })).status).toBe(201);

describe("click-to-call to a listed number", () => {
	it("is a 409 with the exact message, in any spelling of the number, and creates and dials nothing", async () => {
		const account = await pbxAccount();
		await list(account, "+84987009001");
		const handOvers = failMethod(CallDispatcher.prototype, "enqueue", { times: 0 });
		for (const spelling of ["0987009001", "+84987009001", "+84 987 009 001"]) {
			const refused = await clickToCall(account, spelling);
			expect(refused.status, spelling).toBe(409);
			expect(refused.body).toEqual(LISTED);
		}
		expect(await countRows("calls", "account_id = ?", account.id)).toBe(0);
		expect(handOvers.hits).toBe(0);
		// Another number, and the same number on another account, ring.
		expect((await clickToCall(account, "0987009002")).status).toBe(201);
		expect((await clickToCall(await pbxAccount(), "0987009001")).status).toBe(201);
	});

	it("a keyed refusal is not kept: once the number is taken off the list, the same key places the call", async () => {
		const account = await pbxAccount();
		await list(account, "0987009011");
		const key = crypto.randomUUID();
		expect((await clickToCall(account, "0987009011", key)).status).toBe(409);
		expect((await callJson("/api/compliance/dnc/0987009011", { token: account.token, method: "DELETE" })).status).toBe(204);
		const placed = await clickToCall(account, "0987009011", key);
		expect(placed.status).toBe(201);
		expect(placed.body.to_phone).toBe("+84987009011");
	});

	it("commit once wins: a keyed call committed before the number was listed is what the key's retry returns", async () => {
		const account = await pbxAccount();
		const key = crypto.randomUUID();
		const lost = failD1("INSERT INTO idempotency_claims", { mode: "lose-answer", times: 1 });
		expect((await clickToCall(account, "0987009021", key)).status).toBe(500);
		expect(lost.failed).toBe(1);
		const { results } = await env.DB.prepare("SELECT id FROM calls WHERE account_id = ?").bind(account.id).all<{ id: string }>();
		expect(results).toHaveLength(1);

		await list(account, "0987009021");
		const retry = await clickToCall(account, "0987009021", key);
		expect(retry.status).toBe(201);
		expect(retry.body.id).toBe(results[0]?.id);
		expect(await countRows("calls", "account_id = ?", account.id)).toBe(1);
		// A new key is refused.
		expect((await clickToCall(account, "0987009021", crypto.randomUUID())).body).toEqual(LISTED);
	});

	it("a list that cannot be read fails the request (500): nothing is created, and the retry is checked", async () => {
		const account = await pbxAccount();
		await list(account, "0987009031");
		failMethod(ContactLedger.prototype, "find", { times: 2 });
		for (const phone of ["0987009031", "0987009032"]) {
			const failed = await callJson("/api/pbx/calls/click-to-call", {
				token: account.token,
				body: { from_extension: "1001", to_phone: phone },
			});
			expect(failed.status).toBe(500);
		}
		expect(await countRows("calls", "account_id = ?", account.id)).toBe(0);
		expect((await clickToCall(account, "0987009031")).status).toBe(409);
		expect((await clickToCall(account, "0987009032")).status).toBe(201);
	});
});
