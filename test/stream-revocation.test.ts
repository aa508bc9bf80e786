import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { TokenGuard } from "../durable-objects/token-guard";
import { hashToken } from "../workers/auth/tokens";
import { HEARTBEAT_MS } from "../workers/events/routes";
import { tokenGuard } from "../workers/guard/guard";
import { call, callJson, pbxAccount } from "./helpers";

/** A reader whose one outstanding read survives a timed-out wait. */
function timedReader(reader: ReadableStreamDefaultReader<Uint8Array>) {
	let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
	return async (ms: number): Promise<{ text: string; ended: boolean }> => {
		let text = "";
		const deadline = Date.now() + ms;
		for (;;) {
			const left = deadline - Date.now();
			if (left <= 0) return { text, ended: false };
			pending ??= reader.read();
			const next = await Promise.race([pending, new Promise<"wait">((resolve) => setTimeout(() => resolve("wait"), left))]);
			if (next === "wait") return { text, ended: false };
			pending = undefined;
			if (next.done) return { text, ended: true };
			text += new TextDecoder().decode(next.value);
		}
	};
}

/** An API token of a fresh PBX account, with a stream opened with it. */
async function streamOfIntegration(body: Record<string, unknown> = {}) {
	const account = await pbxAccount();
	const integration = await callJson<{ id: string; token: string }>("/api/auth/tokens", {
		token: account.token,
		body: { name: "crm", ...body },
	});
	expect(integration.status).toBe(201);
	const response = await call("/api/pbx/events", { token: integration.body.token });
	expect(response.status).toBe(200);
	const reader = response.body?.getReader();
	if (!reader) throw new Error("no stream");
	const read = timedReader(reader);
	expect((await read(300)).text).toContain(": connected");
	const guard = tokenGuard(env, hashToken(integration.body.token));
	return { account, integration: integration.body, reader, read, guard };
}

/** A stream must close this soon after its token stops authenticating: one renewal, and slack. */
const CLOSES_WITHIN_MS = HEARTBEAT_MS + 1_500;

describe("revocation and open event streams", () => {
	it("a stream whose token is revoked gets none of the account's events published after the revocation, and closes", async () => {
		const { account, integration, reader, read } = await streamOfIntegration();

		// The owner revokes the integration's token: requests with it are 401 from now on…
		expect((await call(`/api/auth/tokens/${integration.id}`, { method: "DELETE", token: account.token })).status).toBe(204);
		expect((await call("/api/auth/me", { token: integration.token })).status).toBe(401);

		// …and the stream it opened carries none of the events that follow, even one that comes
		// before the stream's next renewal.
		const placed = await call("/api/pbx/calls/click-to-call", {
			token: account.token,
			body: { from_extension: "1001", to_phone: "0987654321" },
		});
		expect(placed.status).toBe(201);
		const after = await read(6_000);
		await reader.cancel().catch(() => undefined);
		expect(after.text).not.toContain("event: call.");
		expect(after.ended).toBe(true);
	});

	it(`an idle stream closes within ${CLOSES_WITHIN_MS} ms of its token's revocation, and frees its slot`, async () => {
		const { account, integration, read, guard } = await streamOfIntegration();
		expect(await guard.connectionsInFlight()).toBe(1);
		expect((await call(`/api/auth/tokens/${integration.id}`, { method: "DELETE", token: account.token })).status).toBe(204);
		expect((await read(CLOSES_WITHIN_MS)).ended).toBe(true);
		expect(await guard.connectionsInFlight()).toBe(0);
	});

	it(`a stream closes within ${CLOSES_WITHIN_MS} ms of its token expiring`, async () => {
		const { read, guard } = await streamOfIntegration({ expires_in_days: 1 });
		// Two days on, by the guard's clock: the token expired a day ago.
		await runInDurableObject(guard, (instance: TokenGuard) => {
			instance.clock = () => Date.now() + 2 * 86_400_000;
		});
		expect((await read(CLOSES_WITHIN_MS)).ended).toBe(true);
		expect(await guard.connectionsInFlight()).toBe(0);
	});
});
