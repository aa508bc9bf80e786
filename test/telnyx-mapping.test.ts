import { describe, expect, it } from "vitest";
import {
	decodeClientState,
	encodeClientState,
	messageReport,
	TelnyxEnvelope,
	voiceStep,
} from "../workers/carriers/telnyx/events";
import { verifyTelnyxSignature } from "../workers/carriers/telnyx/signature";
import { signTelnyx } from "./support/carriers/telnyx-standin";
import { TELNYX_TEST_PUBLIC_KEY } from "./support/carriers/telnyx-test-key";

const CALL = "0b6c2a4e-9d7f-4c1e-8a55-3f2b1c0d9e8a";

const envelope = (event_type: string, payload: Record<string, unknown>) =>
	TelnyxEnvelope.parse({
		data: { record_type: "event", id: crypto.randomUUID(), event_type, occurred_at: "2030-03-04T17:00:00.123456Z", payload },
		meta: { attempt: 1, delivered_to: "https://callgate.test/api/webhooks/telnyx" },
	});
const leg = (state: string, extra: Record<string, unknown> = {}) => ({
	call_control_id: "v3:abc",
	client_state: state,
	...extra,
});

describe("Telnyx webhook signatures (Ed25519 over `timestamp|body`)", () => {
	const body = '{"data":{"id":"1"}}';

	it("accepts a signature made with the fixture private key, over the exact body, within 300 s either way", async () => {
		const now = Date.now();
		const fresh = await signTelnyx(body, Math.floor(now / 1000));
		const verify = (headers: Record<string, string>, text = body, at = now) =>
			verifyTelnyxSignature(
				TELNYX_TEST_PUBLIC_KEY,
				text,
				headers["telnyx-signature-ed25519"] ?? null,
				headers["telnyx-timestamp"] ?? null,
				at,
			);
		expect(await verify(fresh)).toEqual({ ok: true });
		expect(await verify(fresh, body, now + 300_000)).toEqual({ ok: true });
		expect(await verify(fresh, body, now + 301_000)).toEqual({ ok: false, reason: "stale" });
		expect(await verify(fresh, body, now - 301_000)).toEqual({ ok: false, reason: "stale" });
		// One byte changed, a space added, the timestamp moved: each breaks it.
		expect(await verify(fresh, body.replace("1", "2"))).toEqual({ ok: false, reason: "mismatch" });
		expect(await verify(fresh, `${body} `)).toEqual({ ok: false, reason: "mismatch" });
		const moved = { ...fresh, "telnyx-timestamp": String(Number(fresh["telnyx-timestamp"]) - 1) };
		expect(await verify(moved)).toEqual({ ok: false, reason: "mismatch" });
	});

	it("refuses missing, malformed and foreign signatures, and never verifies without a key", async () => {
		const now = Date.now();
		const ts = String(Math.floor(now / 1000));
		const good = await signTelnyx(body, Number(ts));
		const sig = good["telnyx-signature-ed25519"];
		expect(await verifyTelnyxSignature(TELNYX_TEST_PUBLIC_KEY, body, null, ts, now)).toEqual({ ok: false, reason: "missing" });
		expect(await verifyTelnyxSignature(TELNYX_TEST_PUBLIC_KEY, body, sig, null, now)).toEqual({ ok: false, reason: "missing" });
		expect(await verifyTelnyxSignature(TELNYX_TEST_PUBLIC_KEY, body, sig, `${ts}.5`, now)).toEqual({
			ok: false,
			reason: "malformed",
		});
		expect(await verifyTelnyxSignature(TELNYX_TEST_PUBLIC_KEY, body, "not base64!", ts, now)).toEqual({
			ok: false,
			reason: "malformed",
		});
		expect(await verifyTelnyxSignature(TELNYX_TEST_PUBLIC_KEY, body, btoa("short"), ts, now)).toEqual({
			ok: false,
			reason: "malformed",
		});
		// A valid signature by another key.
		const other = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
		const foreign = new Uint8Array(
			await crypto.subtle.sign("Ed25519", (other as CryptoKeyPair).privateKey, new TextEncoder().encode(`${ts}|${body}`)),
		);
		expect(await verifyTelnyxSignature(TELNYX_TEST_PUBLIC_KEY, body, btoa(String.fromCharCode(...foreign)), ts, now)).toEqual({
			ok: false,
			reason: "mismatch",
		});
		expect(await verifyTelnyxSignature("", body, sig, ts, now)).toEqual({ ok: false, reason: "no-key" });
		expect(await verifyTelnyxSignature(undefined, body, sig, ts, now)).toEqual({ ok: false, reason: "no-key" });
		expect(await verifyTelnyxSignature(btoa("sixteen bytes!!!"), body, sig, ts, now)).toEqual({ ok: false, reason: "no-key" });
	});
});

describe("client_state", () => {
	it("is base64 of the call id (campaign), tagged for the other legs, and only ours decode", () => {
		expect(encodeClientState(CALL, "campaign")).toBe(btoa(CALL));
		expect(atob(encodeClientState(CALL, "campaign-amd"))).toBe(`${CALL};amd`);
		expect(atob(encodeClientState(CALL, "agent"))).toBe(`${CALL};agent`);
		expect(atob(encodeClientState(CALL, "customer"))).toBe(`${CALL};customer`);
		for (const legName of ["campaign", "campaign-amd", "agent", "customer"] as const) {
			expect(decodeClientState(encodeClientState(CALL, legName))).toEqual({ callId: CALL, leg: legName });
		}
		expect(decodeClientState(btoa("have a nice day"))).toBeNull();
		expect(decodeClientState(btoa(`${CALL};boss`))).toBeNull();
		expect(decodeClientState(btoa(`${CALL};agent;x`))).toBeNull();
		expect(decodeClientState("%%%")).toBeNull();
		expect(decodeClientState(undefined)).toBeNull();
	});
});

describe("call events → callgate states", () => {
	const campaign = encodeClientState(CALL, "campaign");
	const amd = encodeClientState(CALL, "campaign-amd");
	const agent = encodeClientState(CALL, "agent");
	const customer = encodeClientState(CALL, "customer");
	const step = (type: string, state: string, extra: Record<string, unknown> = {}) => voiceStep(envelope(type, leg(state, extra)));

	it("campaign legs: initiated → ringing, answered → in_progress and forwarded (after detection when it was asked)", () => {
		expect(step("call.initiated", campaign)).toEqual({
			callId: CALL,
			leg: "campaign",
			callControlId: "v3:abc",
			status: "ringing",
		});
		expect(step("call.answered", campaign)).toMatchObject({ status: "in_progress", action: "forward" });
		expect(step("call.answered", amd)).toEqual({
			callId: CALL,
			leg: "campaign-amd",
			callControlId: "v3:abc",
			status: "in_progress",
		});
		expect(step("call.machine.detection.ended", amd, { result: "human" })).toMatchObject({
			status: "in_progress",
			action: "forward",
		});
		expect(step("call.machine.detection.ended", amd, { result: "not_sure" })).toMatchObject({ action: "forward" });
		expect(step("call.machine.detection.ended", amd, { result: "machine" })).toMatchObject({
			status: "voicemail",
			action: "hangup",
		});
		expect(step("call.machine.premium.detection.ended", amd, { result: "machine" })).toMatchObject({ status: "voicemail" });
		expect(step("call.machine.premium.detection.ended", amd, { result: "human_business" })).toMatchObject({ action: "forward" });
		expect(step("call.machine.premium.detection.ended", amd, { result: "fax_detected" })).toMatchObject({
			status: "failed",
			failureReason: "Telnyx machine detection: fax_detected",
			action: "hangup",
		});
		// Detection on a leg that did not ask for it hands nothing over twice.
		expect(step("call.machine.detection.ended", campaign, { result: "human" })).toBeNull();
	});

	it("every documented hangup_cause has a state; the carrier's cause is the failure reason", () => {
		const cases: [string, string, string | undefined][] = [
			["normal_clearing", "completed", undefined],
			["time_limit", "completed", undefined],
			["user_busy", "busy", "Telnyx hangup_cause user_busy (SIP 486)"],
			["call_rejected", "busy", "Telnyx hangup_cause call_rejected (SIP 486)"],
			["timeout", "no_answer", "Telnyx hangup_cause timeout (SIP 486)"],
			["no_answer", "no_answer", "Telnyx hangup_cause no_answer (SIP 486)"],
			["originator_cancel", "cancelled", undefined],
			["not_found", "failed", "Telnyx hangup_cause not_found (SIP 486)"],
			["unspecified", "failed", "Telnyx hangup_cause unspecified (SIP 486)"],
			["unallocated_number", "failed", "Telnyx hangup_cause unallocated_number (SIP 486)"],
		];
		for (const [cause, status, reason] of cases) {
			const mapped = step("call.hangup", campaign, { hangup_cause: cause, sip_hangup_cause: "486" });
			expect(mapped?.status, cause).toBe(status);
			expect(mapped?.failureReason, cause).toBe(reason);
			expect(mapped?.action).toBeUndefined();
		}
		expect(step("call.hangup", campaign, { hangup_cause: "timeout", sip_hangup_cause: "unspecified" })?.failureReason).toBe(
			"Telnyx hangup_cause timeout",
		);
	});

	it("click-to-call: the agent's answer transfers, an agent who never answers ends it, the customer's leg decides", () => {
		expect(step("call.initiated", agent)).toMatchObject({ leg: "agent", status: "ringing" });
		expect(step("call.answered", agent)).toMatchObject({ status: "ringing", action: "transfer" });
		expect(step("call.hangup", agent, { hangup_cause: "timeout" })).toMatchObject({
			status: "no_answer",
			failureReason: "The agent did not answer: Telnyx hangup_cause timeout",
		});
		expect(step("call.hangup", agent, { hangup_cause: "not_found", sip_hangup_cause: "404" })).toMatchObject({
			status: "failed",
			failureReason: "The agent could not be reached: Telnyx hangup_cause not_found (SIP 404)",
		});
		// The agent hanging up after answering ends the call, unless the route finds the customer's leg
		// already exists (agent-gone): then the customer's leg reports its own end.
		expect(step("call.hangup", agent, { hangup_cause: "normal_clearing" })).toMatchObject({
			status: "no_answer",
			failureReason: "The agent hung up before the customer was connected.",
			action: "agent-gone",
		});
		expect(step("call.initiated", customer)).toMatchObject({ leg: "customer", status: "ringing" });
		expect(step("call.answered", customer)).toEqual({
			callId: CALL,
			leg: "customer",
			callControlId: "v3:abc",
			status: "in_progress",
		});
		expect(step("call.hangup", customer, { hangup_cause: "normal_clearing" })).toMatchObject({ status: "completed" });
		expect(step("call.hangup", customer, { hangup_cause: "user_busy" })).toMatchObject({
			status: "busy",
			action: "hangup-agent",
		});
	});

	it("events of calls callgate did not place, and events without a bearing on state, are ignored", () => {
		expect(step("call.initiated", btoa("someone else's"))).toBeNull();
		expect(voiceStep(envelope("call.initiated", { call_control_id: "v3:x" }))).toBeNull();
		expect(step("call.bridged", customer)).toBeNull();
		// A leg an agent platform's transfer instruction created: the campaign call's own leg decides.
		const forwarded = btoa(`${CALL};forwarded`);
		expect(step("call.answered", forwarded)).toBeNull();
		expect(step("call.hangup", forwarded, { hangup_cause: "user_busy" })).toBeNull();
		expect(step("call.recording.saved", campaign)).toBeNull();
	});
});

describe("message events → SMS reports", () => {
	const message = (type: string, status: string, errors: unknown[] = []) =>
		envelope(type, {
			id: "40318-telnyx-id",
			record_type: "message",
			to: [{ phone_number: "+84920000001", status }],
			errors,
			webhook_url: "https://callgate.test/api/webhooks/telnyx?message_id=abc",
		});

	it("sent, delivered, and failed with the carrier's error code and text", () => {
		expect(messageReport(message("message.sent", "sent"))).toMatchObject({
			status: "sent",
			providerMessageId: "40318-telnyx-id",
			webhookUrl: "https://callgate.test/api/webhooks/telnyx?message_id=abc",
			occurred_at: "2030-03-04T17:00:00.123Z",
		});
		expect(messageReport(message("message.finalized", "delivered"))).toMatchObject({ status: "delivered" });
		expect(messageReport(message("message.finalized", "delivery_unconfirmed"))?.status).toBe("sent");
		expect(
			messageReport(
				message("message.finalized", "delivery_failed", [{ code: "40008", title: "Undeliverable", detail: "Handset off." }]),
			),
		).toMatchObject({ status: "failed", failure_reason: "Telnyx 40008: Undeliverable: Handset off." });
		expect(messageReport(message("message.finalized", "sending_failed"))).toMatchObject({
			status: "failed",
			failure_reason: "Telnyx: sending_failed",
		});
		expect(messageReport(message("message.received", "webhook_delivered"))).toBeNull();
	});
});
