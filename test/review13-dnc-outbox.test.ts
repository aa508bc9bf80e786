import { afterEach, describe, expect, it } from "vitest";
import { runCron } from "./campaign-helpers";
import { callJson, pbxAccount } from "./helpers";
import { failD1, restoreFaults } from "./support/faults";

/**
 * Review of issue 13: the do_not_call disposition's outbox. A row whose ledger hand-over went
 * through but whose delete failed stays in dnc_outbox; the cron hands it over again later,
 * whatever happened to the number on the list in between.
 */

afterEach(() => restoreFaults());

type Account = Awaited<ReturnType<typeof pbxAccount>>;
type Page = { data: { phone: string; source: string }[] };

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
	return () =>
		callJson(`/api/telesales/leads/${lead.body.id}/dispositions`, {
			token: account.token,
			body: { call_id: placed.body.id, outcome: "do_not_call" },
		});
}

const listed = async (account: Account, phone: string) =>
	(await callJson<Page>(`/api/compliance/dnc?phone=${encodeURIComponent(phone)}`, { token: account.token })).body.data;

describe("review13: dnc_outbox after a listing was taken off", () => {
	it("a number the owner took off the list after the disposition listed it is not put back by the cron's repeat of that hand-over", async () => {
		const account = await pbxAccount();
		const dispose = await leadWithCall(account, "0987013001");
		// The ledger takes the number; the outbox row's delete fails, so the row stays for the cron.
		failD1("DELETE FROM dnc_outbox", { times: 1 });
		expect((await dispose()).status).toBe(201);
		expect(await listed(account, "0987013001")).toHaveLength(1);

		// The customer calls back and asks to be called again: the owner takes the number off (204).
		const removed = await callJson("/api/compliance/dnc/0987013001", { method: "DELETE", token: account.token });
		expect(removed.status).toBe(204);
		expect(await listed(account, "0987013001")).toEqual([]);

		// The minute cron hands over the stale outbox row: the removal must stand.
		await runCron(Date.now());
		expect(await listed(account, "0987013001")).toEqual([]);
	});
});
