import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { TokenGuard } from "../durable-objects/token-guard";
import { hashToken } from "../workers/auth/tokens";
import { tokenGuard } from "../workers/guard/guard";
import { RATE_LIMIT_GROUPS } from "../workers/guard/rate-limit-groups";
import { call, callJson, newAccount, unique } from "./helpers";
import { failMethod, restoreFaults } from "./support/faults";

interface GroupState {
	group: string;
	limit: number;
	remaining: number;
	reset_at: string;
	window_seconds: number;
	retry_after_seconds: number | null;
}
interface Limits {
	groups: GroupState[];
	connections: { limit: number; in_flight: number };
}

const limitsOf = async (token: string) => {
	const { status, body, response } = await callJson<Limits>("/api/auth/limits", { token });
	expect(status).toBe(200);
	return { body, response, group: (name: string) => body.groups.find((g) => g.group === name) };
};

const settle = async (check: () => Promise<boolean>) => {
	for (let i = 0; i < 100; i++) {
		if (await check()) return true;
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
	return false;
};

afterEach(() => restoreFaults());

describe("GET /api/auth/limits", () => {
	it("lists every group a token is counted in, with this request counted in auth only", async () => {
		const account = await newAccount({ max_connections: 7 });
		const { body, response, group } = await limitsOf(account.token);
		const tokenGroups = Object.keys(RATE_LIMIT_GROUPS).filter((g) => g !== "auth-login");
		expect(body.groups.map((g) => g.group).sort()).toEqual(tokenGroups.sort());
		for (const state of body.groups) {
			expect(state.limit).toBe(RATE_LIMIT_GROUPS[state.group as keyof typeof RATE_LIMIT_GROUPS]);
			expect(state.window_seconds).toBe(60);
			expect(state.remaining).toBe(state.group === "auth" ? state.limit - 1 : state.limit);
			expect(state.retry_after_seconds).toBeNull();
		}
		// Its own headers and its body agree on the group it was counted in.
		expect(response.headers.get("X-RateLimit-Remaining")).toBe(String(group("auth")?.remaining));
		expect(body.connections).toEqual({ limit: 7, in_flight: 1 });
	});

	it("reads other groups without using their budget, and agrees with their own headers", async () => {
		const account = await newAccount();
		let last: Response | undefined;
		for (let i = 0; i < 3; i++) last = await call("/api/pbx/users", { token: account.token });
		const first = await limitsOf(account.token);
		const pbx = first.group("pbx");
		expect(pbx?.remaining).toBe(57);
		expect(String(pbx?.remaining)).toBe(last?.headers.get("X-RateLimit-Remaining"));
		expect(Date.parse(pbx?.reset_at ?? "") / 1000).toBe(Number(last?.headers.get("X-RateLimit-Reset")));
		const second = await limitsOf(account.token);
		expect(second.group("pbx")?.remaining).toBe(57);
		expect(second.group("auth")?.remaining).toBe((first.group("auth")?.remaining ?? 0) - 1);
		expect(second.group("autocall")?.remaining).toBe(120);
	});

	it("shows an account's raised limits and a full window's wait", async () => {
		const account = await newAccount({ rate_limits: { pbx: 600, webhooks: 2 } });
		for (let i = 0; i < 2; i++) await call("/api/webhooks/endpoints", { token: account.token });
		const refused = await call("/api/webhooks/endpoints", { token: account.token });
		expect(refused.status).toBe(429);
		const { group } = await limitsOf(account.token);
		expect(group("pbx")?.limit).toBe(600);
		expect(group("webhooks")).toMatchObject({ limit: 2, remaining: 0 });
		const wait = group("webhooks")?.retry_after_seconds ?? 0;
		expect(wait).toBeGreaterThanOrEqual(1);
		expect(wait).toBeLessThanOrEqual(Number(refused.headers.get("Retry-After")));
	});

	it("counts open event streams among the connections in flight", async () => {
		const account = await newAccount();
		const stream = await call("/api/pbx/events", { token: account.token });
		const reader = stream.body?.getReader();
		if (!reader) throw new Error("no stream");
		await reader.read();
		expect((await limitsOf(account.token)).body.connections.in_flight).toBe(2);
		await reader.cancel();
		expect(await settle(async () => (await limitsOf(account.token)).body.connections.in_flight === 1)).toBe(true);
	});

	it("is per token: another token, of the same account or another, has its own counts", async () => {
		const account = await newAccount();
		const other = await newAccount();
		const minted = await callJson<{ token: string }>("/api/auth/tokens", { token: account.token, body: { name: unique("t") } });
		for (let i = 0; i < 4; i++) await call("/api/pbx/users", { token: account.token });
		expect((await limitsOf(account.token)).group("pbx")?.remaining).toBe(56);
		expect((await limitsOf(minted.body.token)).group("pbx")?.remaining).toBe(60);
		expect((await limitsOf(other.token)).group("pbx")?.remaining).toBe(60);
	});

	it("needs a valid token", async () => {
		const { status, body } = await callJson("/api/auth/limits");
		expect(status).toBe(401);
		expect(body).toHaveProperty("message");
		expect((await callJson("/api/auth/limits", { token: "cgs_nope" })).status).toBe(401);
	});

	it("a guard that fails to answer is a 500 with a message, and no budget of any group is taken", async () => {
		const account = await newAccount();
		failMethod(TokenGuard.prototype, "usage", { times: 1 });
		const { status, body } = await callJson<{ message: string }>("/api/auth/limits", { token: account.token });
		expect(status).toBe(500);
		expect(body.message).not.toMatch(/injected/);
		const usage = await tokenGuard(env, hashToken(account.token)).usage([{ group: "pbx", limit: 60, windowMs: 60_000 }]);
		expect(usage.groups[0]?.state.remaining).toBe(60);
		// The next read works, and shows the failed request counted in auth like any other.
		const { group } = await limitsOf(account.token);
		expect(group("auth")?.remaining).toBe(28);
	});
});
