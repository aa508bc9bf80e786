import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { ContactLedger, contactLedgerOf, KEEP_HANDED_OVER_DAYS } from "../durable-objects/contact-ledger";
import { runCron } from "./campaign-helpers";
import { callJson, countRows, pbxAccount } from "./helpers";
import { failD1, failMethod, restoreFaults } from "./support/faults";

afterEach(() => restoreFaults());

type Account = Awaited<ReturnType<typeof pbxAccount>>;
type Page = { data: { phone: string; reason: string | null; source: string }[] };

/** A lead with a call to it, ready for a disposition. */
async function leadWithCall(account: Account, phone: string) {
	const campaign = await callJson<{ id: string }>("/api/telesales/campaigns", { token: account.token, body: { name: "DNC" } });
	const lead = await callJson<{ id: string }>(`/api/telesales/campaigns/${campaign.body.id}/leads`, {
		token: account.token,
		body: { phone },
	});
	const placed = await callJson<{ id: string }>("/api/pbx/calls/click-to-call", {
		token: account.token,
		body: { from_extension: "1001", to_phone: phone },
	});
	expect([lead.status, placed.status]).toEqual([201, 201]);
	const dispose = (outcome: string, callId = placed.body.id) =>
		callJson<{ id?: string; existing_id?: string }>(`/api/telesales/leads/${lead.body.id}/dispositions`, {
			token: account.token,
			body: { call_id: callId, outcome },
		});
	return { leadId: lead.body.id, callId: placed.body.id, dispose };
}

const listed = async (account: Account, phone: string) =>
	(await callJson<Page>(`/api/compliance/dnc?phone=${encodeURIComponent(phone)}`, { token: account.token })).body.data;

describe("a do_not_call disposition", () => {
	it("lists the lead's number (source disposition), marks the lead, and the number can no longer be called", async () => {
		const account = await pbxAccount();
		const { leadId, dispose } = await leadWithCall(account, "0987010001");
		const recorded = await dispose("do_not_call");
		expect(recorded.status).toBe(201);
		expect(await listed(account, "0987010001")).toEqual([
			{ phone: "+84987010001", reason: `Lead ${leadId}`, source: "disposition", created_at: expect.any(String) },
		]);
		const lead = await callJson<{ status: string }>(`/api/telesales/leads/${leadId}`, { token: account.token });
		expect(lead.body.status).toBe("do_not_call");
		expect(await countRows("dnc_outbox", "account_id = ?", account.id)).toBe(0);
		const refused = await callJson("/api/pbx/calls/click-to-call", {
			token: account.token,
			body: { from_extension: "1001", to_phone: "0987010001" },
		});
		expect(refused.status).toBe(409);
	});

	it("other outcomes list nothing", async () => {
		const account = await pbxAccount();
		const { dispose } = await leadWithCall(account, "0987010011");
		expect((await dispose("not_interested")).status).toBe(201);
		expect(await listed(account, "0987010011")).toEqual([]);
	});

	it("under a burst of the same disposition: one disposition, one list entry", async () => {
		const account = await pbxAccount();
		const { dispose } = await leadWithCall(account, "0987010021");
		const answers = await Promise.all(Array.from({ length: 10 }, () => dispose("do_not_call")));
		expect(answers.filter((answer) => answer.status === 201)).toHaveLength(1);
		expect(answers.filter((answer) => answer.status === 409)).toHaveLength(9);
		expect(await listed(account, "0987010021")).toHaveLength(1);
		const page = await callJson<Page>("/api/compliance/dnc", { token: account.token });
		expect(page.body.data.map((entry) => entry.phone)).toEqual(["+84987010021"]);
	});

	for (const mode of ["throw", "lose-answer"] as const) {
		it(`the disposition commits and the list write fails (${mode}): 201, and the cron lists the number once`, async () => {
			const account = await pbxAccount();
			const { dispose } = await leadWithCall(account, "0987010031");
			const fault = failMethod(ContactLedger.prototype, "takeListing", { times: 1, mode });
			expect((await dispose("do_not_call")).status).toBe(201);
			expect(fault.failed).toBe(1);
			expect(await countRows("dispositions", "account_id = ?", account.id)).toBe(1);
			expect(await listed(account, "0987010031")).toHaveLength(mode === "throw" ? 0 : 1);
			expect(await countRows("dnc_outbox", "account_id = ?", account.id)).toBe(1);

			await runCron(Date.now());
			expect(await listed(account, "0987010031")).toHaveLength(1);
			expect(await countRows("dnc_outbox", "account_id = ?", account.id)).toBe(0);
			await runCron(Date.now());
			expect(await listed(account, "0987010031")).toHaveLength(1);
		});
	}

	it("the outbox row's delete fails after the ledger took the number: the cron's repeat lists nothing twice", async () => {
		const account = await pbxAccount();
		const { dispose } = await leadWithCall(account, "0987010041");
		failD1("DELETE FROM dnc_outbox", { times: 1 });
		expect((await dispose("do_not_call")).status).toBe(201);
		expect(await countRows("dnc_outbox", "account_id = ?", account.id)).toBe(1);
		await runCron(Date.now());
		expect(await countRows("dnc_outbox", "account_id = ?", account.id)).toBe(0);
		expect(await listed(account, "0987010041")).toHaveLength(1);
	});

	it("a number the owner took off the list after a disposition listed it is not put back by the cron's repeat of that hand-over", async () => {
		const account = await pbxAccount();
		const { dispose } = await leadWithCall(account, "0987013001");
		// The ledger takes the number; the outbox row's delete fails, so the row stays for the cron.
		failD1("DELETE FROM dnc_outbox", { times: 1 });
		expect((await dispose("do_not_call")).status).toBe(201);
		expect(await listed(account, "0987013001")).toHaveLength(1);
		expect(await countRows("dnc_outbox", "account_id = ?", account.id)).toBe(1);

		// The customer asks to be called again: the owner takes the number off (204).
		const removed = await callJson("/api/compliance/dnc/0987013001", { method: "DELETE", token: account.token });
		expect(removed.status).toBe(204);

		// The minute cron hands over the stale outbox row: the ledger knows it, the removal stands, the row goes.
		await runCron(Date.now());
		expect(await listed(account, "0987013001")).toEqual([]);
		expect(await countRows("dnc_outbox", "account_id = ?", account.id)).toBe(0);
	});

	it(`the ledger remembers a hand-over ${KEEP_HANDED_OVER_DAYS} days after the last time it was handed over, then forgets it`, async () => {
		const account = await pbxAccount();
		const ledger = contactLedgerOf(env, account.id);
		const clock = { now: Date.parse("2030-03-04T16:00:00Z") };
		await runInDurableObject(ledger, (object: ContactLedger) => {
			object.clock = () => clock.now;
		});
		const day = 24 * 60 * 60 * 1000;
		const id = crypto.randomUUID();
		expect(await ledger.takeListing(id, "+84987013011", "Lead")).toBe(true);
		expect(await ledger.remove("+84987013011")).toBe(true);
		// Repeats (a cron every minute while the row's delete fails) renew the memory, so it outlives the row.
		clock.now += (KEEP_HANDED_OVER_DAYS - 1) * day;
		expect(await ledger.takeListing(id, "+84987013011", "Lead")).toBe(false);
		clock.now += (KEEP_HANDED_OVER_DAYS - 1) * day;
		expect(await ledger.takeListing(id, "+84987013011", "Lead")).toBe(false);
		expect(await ledger.find("+84987013011")).toBeNull();
		// Not handed over for that long: purged (with the hourly purge), a hand-over of that id would list again.
		clock.now += KEEP_HANDED_OVER_DAYS * day + 1;
		expect(await ledger.takeListing(crypto.randomUUID(), "+84987013012", "Lead")).toBe(true);
		expect(await ledger.takeListing(id, "+84987013011", "Lead")).toBe(true);
	});

	it("a disposition whose own write fails lists nothing", async () => {
		const account = await pbxAccount();
		const { dispose } = await leadWithCall(account, "0987010051");
		failD1("INSERT INTO dispositions", { times: 1 });
		expect((await dispose("do_not_call")).status).toBe(500);
		expect(await countRows("dnc_outbox", "account_id = ?", account.id)).toBe(0);
		expect(await listed(account, "0987010051")).toEqual([]);
	});
});
