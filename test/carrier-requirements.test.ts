import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type CallDispatcher, callDispatcherOf } from "../durable-objects/call-dispatcher";
import worker from "../workers/index";
import { pacerOf, seedPayload, takeOver } from "./campaign-helpers";
import { BASE, callJson, pbxAccount } from "./helpers";

type Account = Awaited<ReturnType<typeof pbxAccount>>;

/** The Worker as a deployment on a carrier serves it (the objects behind it stay simulated). */
async function onCarrier<T = Record<string, unknown>>(path: string, token: string, body: unknown, method = "POST") {
	const ctx = createExecutionContext();
	const response = await worker.fetch(
		new Request(`${BASE}${path}`, {
			method,
			headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
			body: JSON.stringify(body),
		}),
		{ ...env, DIALER_PROVIDER: "twilio", SMS_PROVIDER: "twilio" },
		ctx,
	);
	await waitOnExecutionContext(ctx);
	return { status: response.status, body: (await response.json()) as T };
}

async function callerId(account: Account, number: string, isDefault = false) {
	const created = await callJson<{ id: string; number: string }>("/api/pbx/caller-ids", {
		token: account.token,
		body: { number, label: number, ...(isDefault ? { is_default: true } : {}) },
	});
	expect(created.status, JSON.stringify(created.body)).toBe(201);
	return created.body;
}

const setAgentAnswerUrl = async (account: Account, url: string | null) => {
	const patched = await callJson("/api/account", { method: "PATCH", token: account.token, body: { agent_answer_url: url } });
	expect(patched.status, JSON.stringify(patched.body)).toBe(200);
};

/** A campaign payload that dials at once (the window is never open in 2030 here: it stays scheduled). */
const payload = (overrides: Record<string, unknown> = {}) => seedPayload({ contacts: ["+14155550100"], ...overrides });

describe("the number a call presents", () => {
	it("a campaign without caller_id goes out from the account's default caller id, else the oldest, else none", async () => {
		const account = await pbxAccount({ default_region: "US" });
		const none = await callJson<{ caller_id: string | null }>("/api/autocall/campaigns", {
			token: account.token,
			body: payload(),
		});
		expect(none.status).toBe(201);
		expect(none.body.caller_id).toBeNull();

		await callerId(account, "+14155550111");
		await callerId(account, "+14155550122");
		const oldest = await callJson<{ caller_id: string }>("/api/autocall/campaigns", { token: account.token, body: payload() });
		expect(oldest.body.caller_id).toBe("+14155550111");

		await callerId(account, "+14155550133", true);
		const byDefault = await callJson<{ caller_id: string }>("/api/autocall/campaigns", { token: account.token, body: payload() });
		expect(byDefault.body.caller_id).toBe("+14155550133");

		const named = await callJson<{ caller_id: string }>("/api/autocall/campaigns", {
			token: account.token,
			body: payload({ caller_id: "(415) 555-0122" }),
		});
		expect(named.body.caller_id).toBe("+14155550122");
	});

	it("a caller_id the account does not hold is a 422 that names the field, and creates nothing", async () => {
		const account = await pbxAccount({ default_region: "US" });
		const other = await pbxAccount({ default_region: "US" });
		await callerId(other, "+14155550144");
		const refused = await callJson<{ message: string; errors: Record<string, string> }>("/api/autocall/campaigns", {
			token: account.token,
			body: payload({ caller_id: "+14155550144" }),
		});
		expect(refused.status).toBe(422);
		expect(Object.keys(refused.body.errors)).toEqual(["caller_id"]);
		const listed = await callJson<{ data: unknown[] }>("/api/autocall/campaigns", { token: account.token });
		expect(listed.body.data).toEqual([]);
	});

	it("a PATCH may move a campaign to another of the account's numbers; the pacer dials from it", async () => {
		const account = await pbxAccount({ default_region: "US" });
		await callerId(account, "+14155550155");
		await callerId(account, "+14155550166");
		const created = await callJson<{ id: string; caller_id: string }>("/api/autocall/campaigns", {
			token: account.token,
			body: payload(),
		});
		const patched = await callJson<{ caller_id: string; retry_on: string[]; machine_detection: boolean }>(
			`/api/autocall/campaigns/${created.body.id}`,
			{
				method: "PATCH",
				token: account.token,
				body: { caller_id: "+14155550166", retry_on: ["busy", "voicemail"], machine_detection: true },
			},
		);
		expect(patched.status).toBe(200);
		expect(patched.body).toMatchObject({ caller_id: "+14155550166", retry_on: ["busy", "voicemail"], machine_detection: true });
		const { inject, dialled } = takeOver(created.body.id, { now: Date.parse("2030-03-04T17:00:00Z") });
		await inject();
		await pacerOf(created.body.id).wake(created.body.id);
		expect(dialled.map((call) => call.callerId)).toEqual(["+14155550166"]);
		const refused = await callJson(`/api/autocall/campaigns/${created.body.id}`, {
			method: "PATCH",
			token: account.token,
			body: { retry_on: ["completed"] },
		});
		expect(refused.status).toBe(422);
	});
});

describe("a carrier refuses up front what it could not dial", () => {
	it("a campaign needs a caller id and the account's agent_answer_url; each missing one is a 422 that says what to set", async () => {
		const account = await pbxAccount({ default_region: "US" });
		const noCallerId = await onCarrier<{ message: string; errors: Record<string, string> }>(
			"/api/autocall/campaigns",
			account.token,
			payload(),
		);
		expect(noCallerId.status).toBe(422);
		expect(String(noCallerId.body.errors.caller_id)).toContain("register one under /api/pbx/caller-ids");

		await callerId(account, "+14155550177");
		const noAgent = await onCarrier<{ message: string }>("/api/autocall/campaigns", account.token, payload());
		expect(noAgent.status).toBe(422);
		expect(noAgent.body.message).toContain("agent_answer_url");

		await setAgentAnswerUrl(account, "https://agents.example.com/answer");
		const created = await onCarrier<{ caller_id: string }>("/api/autocall/campaigns", account.token, payload());
		expect(created.status).toBe(201);
		expect(created.body.caller_id).toBe("+14155550177");
		// Only the one that passed was created.
		const listed = await callJson<{ data: unknown[] }>("/api/autocall/campaigns", { token: account.token });
		expect(listed.body.data).toHaveLength(1);
	});

	it("a click-to-call needs a caller id and an extension that can ring its agent; the dispatcher gets the agent leg", async () => {
		const account = await pbxAccount({ default_region: "US" });
		const click = () =>
			onCarrier<{ id: string; message: string; errors?: Record<string, string> }>("/api/pbx/calls/click-to-call", account.token, {
				from_extension: "1001",
				to_phone: "+14155550188",
			});
		const noCallerId = await click();
		expect(noCallerId.status).toBe(422);
		expect(noCallerId.body.errors?.caller_id).toBeDefined();

		await callerId(account, "+14155550199", true);
		const noLeg = await click();
		expect(noLeg.status).toBe(422);
		expect(String(noLeg.body.errors?.from_extension)).toContain("no sip_uri or forward_to");

		const patched = await callJson("/api/pbx/extensions/1001", {
			method: "PATCH",
			token: account.token,
			body: { sip_uri: "sip:agent1001@pbx.example.com" },
		});
		expect(patched.status, JSON.stringify(patched.body)).toBe(200);
		const placed = await click();
		expect(placed.status).toBe(201);
		const row = await runInDurableObject(callDispatcherOf(env, account.id), (_: CallDispatcher, state) =>
			state.storage.sql.exec("SELECT caller_id, agent_leg FROM dials WHERE call_id = ?", placed.body.id).one(),
		);
		expect(row).toEqual({ caller_id: "+14155550199", agent_leg: "sip:agent1001@pbx.example.com" });
	});

	it("an SMS needs a sender: the one sent, else the default caller id", async () => {
		const account = await pbxAccount({ default_region: "US" });
		const refused = await onCarrier<{ errors: Record<string, string> }>("/api/integrations/sms", account.token, {
			to: "+14155550100",
			text: "hello",
		});
		expect(refused.status).toBe(422);
		expect(Object.keys(refused.body.errors)).toEqual(["from"]);
		const { count } = (await env.DB.prepare("SELECT count(*) AS count FROM sms_messages WHERE account_id = ?")
			.bind(account.id)
			.first<{ count: number }>()) ?? { count: -1 };
		expect(count).toBe(0);
	});
});
