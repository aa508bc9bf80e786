import { describe, expect, it } from "vitest";
import { Gate, type Ticket } from "../../sdk/src/gate";

const rateHeaders = (group: string, limit: number, remaining: number, cap = 20) =>
	new Headers({
		RateLimit: `"${group}";r=${remaining};t=60`,
		"RateLimit-Policy": `"${group}";q=${limit};w=60, "connections";q=${cap};qu="concurrent-requests"`,
		"X-RateLimit-Limit": String(limit),
		"X-RateLimit-Remaining": String(remaining),
	});

/** Resolves with how many of `promises` have settled after the event loop has turned. */
async function settled(promises: Promise<unknown>[]): Promise<number> {
	let count = 0;
	for (const promise of promises) promise.then(() => count++);
	await new Promise((resolve) => setTimeout(resolve, 20));
	return count;
}

describe("Gate", () => {
	it("a route's first request goes alone; its answer names the group and the rest go", async () => {
		const gate = new Gate();
		const first = gate.acquire("GET /api/pbx/users");
		const rest = Array.from({ length: 5 }, () => gate.acquire("GET /api/pbx/users"));
		expect(await settled([first])).toBe(1);
		expect(await settled(rest)).toBe(0);
		(await first).answered({ status: 200, headers: rateHeaders("pbx", 60, 59) });
		expect(await settled(rest)).toBe(5);
	});

	it("at most the connection cap in flight; a release lets the next one go", async () => {
		const gate = new Gate();
		const probe = await gate.acquire("GET /api/pbx/calls");
		probe.answered({ status: 200, headers: rateHeaders("pbx", 600, 599) });
		probe.release();
		const waiting = Array.from({ length: 25 }, () => gate.acquire("GET /api/pbx/calls"));
		expect(await settled(waiting)).toBe(20);
		expect(gate.active).toBe(20);
		const granted = (await Promise.race(waiting)) as Ticket;
		granted.release();
		expect(await settled(waiting)).toBe(21);
	});

	it("the server's advertised cap lowers the client's, never raises it past what was configured", async () => {
		const gate = new Gate({ maxConnections: 50 });
		expect(gate.connectionCap).toBe(20);
		const ticket = await gate.acquire("GET /api/pbx/calls");
		ticket.answered({ status: 200, headers: rateHeaders("pbx", 600, 599, 100) });
		expect(gate.connectionCap).toBe(50);
		const lower = new Gate();
		const other = await lower.acquire("GET /api/pbx/calls");
		other.answered({ status: 200, headers: rateHeaders("pbx", 600, 599, 5) });
		expect(lower.connectionCap).toBe(5);
	});

	it("a group without budget does not hold up another group's requests", async () => {
		const gate = new Gate();
		const pbx = await gate.acquire("GET /api/pbx/calls");
		pbx.answered({ status: 200, headers: rateHeaders("pbx", 1, 0) });
		pbx.release();
		const blocked = gate.acquire("GET /api/pbx/calls");
		const telesales = gate.acquire("GET /api/telesales/campaigns");
		expect(await settled([blocked])).toBe(0);
		expect(await settled([telesales])).toBe(1);
	});

	it("an aborted wait leaves the queue with the signal's reason", async () => {
		const gate = new Gate({ maxConnections: 1 });
		await gate.acquire("GET /api/pbx/calls");
		const controller = new AbortController();
		const waiting = gate.acquire("GET /api/pbx/calls", controller.signal);
		controller.abort(new Error("caller gave up"));
		await expect(waiting).rejects.toThrow("caller gave up");
	});

	it("a 429's huge Retry-After holds its group at most maxBlockMs, and never as a loop of instant timers", async () => {
		const realSetTimeout = globalThis.setTimeout;
		let timers = 0;
		const counting = ((handler: () => void, ms?: number) => {
			timers++;
			return realSetTimeout(handler, ms);
		}) as typeof globalThis.setTimeout;
		globalThis.setTimeout = counting;
		try {
			// No ceiling: the wait is 29 days long, but one timer (of setTimeout's longest delay) stands for it.
			const unbounded = new Gate();
			const refused = await unbounded.acquire("GET /api/pbx/calls");
			refused.answered({ status: 429, headers: new Headers(), retryAfterMs: 2_500_000_000 });
			refused.release();
			const stuck = new AbortController();
			const held = unbounded.acquire("GET /api/pbx/calls", stuck.signal).catch(() => "aborted");
			timers = 0;
			await new Promise((resolve) => realSetTimeout(resolve, 50));
			expect(timers).toBeLessThan(3);
			stuck.abort();
			expect(await held).toBe("aborted");

			const bounded = new Gate({ maxBlockMs: 60 });
			const first = await bounded.acquire("GET /api/pbx/calls");
			first.answered({ status: 429, headers: new Headers(), retryAfterMs: 2_500_000_000 });
			first.release();
			const next = bounded.acquire("GET /api/pbx/calls");
			expect(await settled([next])).toBe(0);
			await new Promise((resolve) => realSetTimeout(resolve, 80));
			expect(await settled([next])).toBe(1);
		} finally {
			globalThis.setTimeout = realSetTimeout;
		}
	});
});
