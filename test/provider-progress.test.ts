import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { applyProviderEvent } from "../workers/dialer/provider-events";
import { countRows, pbxAccount } from "./helpers";

/** A call row of the account's, as a dial writes it before the provider reports on it. */
async function dialledCall(accountId: string, id = crypto.randomUUID()) {
	const now = new Date().toISOString();
	await env.DB.prepare(
		`INSERT INTO calls (id, account_id, kind, to_phone, status, created_at, updated_at)
		 VALUES (?, ?, 'click_to_call', '+84987654321', 'dialing', ?, ?)`,
	)
		.bind(id, accountId, now, now)
		.run();
	return id;
}

const progress = (callId: string, status: "ringing" | "in_progress", eventId = crypto.randomUUID()) => ({
	event_id: eventId,
	call_id: callId,
	status,
	occurred_at: new Date().toISOString(),
});

describe("a provider's progress events (one batch, no read of the call first)", () => {
	it("an unknown call records nothing: the same event id applies once the call exists", async () => {
		const account = await pbxAccount();
		const callId = crypto.randomUUID();
		const ringing = progress(callId, "ringing");
		expect(await applyProviderEvent(env, ringing)).toBe("unknown-call");
		expect(await countRows("provider_events", "event_id = ?", ringing.event_id)).toBe(0);

		await dialledCall(account.id, callId);
		expect(await applyProviderEvent(env, ringing)).toBe("applied");
		expect(await countRows("calls", "id = ? AND status = 'ringing'", callId)).toBe(1);
		expect(await applyProviderEvent(env, ringing)).toBe("duplicate");
	});

	it("a late event is stale and moves nothing back; it is recorded, so its redelivery is a duplicate", async () => {
		const account = await pbxAccount();
		const callId = await dialledCall(account.id);
		expect(await applyProviderEvent(env, progress(callId, "in_progress"))).toBe("applied");
		const late = progress(callId, "ringing");
		expect(await applyProviderEvent(env, late)).toBe("stale");
		expect(await countRows("calls", "id = ? AND status = 'in_progress' AND answered_at IS NOT NULL", callId)).toBe(1);
		expect(await applyProviderEvent(env, late)).toBe("duplicate");
	});
});
