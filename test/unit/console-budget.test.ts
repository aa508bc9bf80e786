import { afterEach, describe, expect, it, vi } from "vitest";
import { BudgetGate, GroupBudget, MAX_BACKGROUND_IN_FLIGHT, RESERVED, WINDOW_MS } from "../../console/src/budget";

const reading = (remaining: number, resetAt: number, limit = 120) => ({ limit, remaining, resetAt });

describe("the console's budget of one rate-limit group", () => {
	it("lets background reads go while more than the reserve is left, and the operator's requests always", () => {
		const budget = new GroupBudget();
		let now = 1_000;
		for (let i = 0; i < 120 - RESERVED; i++) {
			expect(budget.waitFor("background", now), `read ${i}`).toBe(0);
			budget.take("background", now);
			budget.done("background");
			now += 10;
		}
		expect(budget.remaining(now)).toBe(RESERVED);
		// The first unit leaves the window a minute (and a margin) after it was taken.
		expect(budget.waitFor("background", now)).toBe(1_000 + WINDOW_MS - now);
		for (let i = 0; i < RESERVED; i++) {
			expect(budget.waitFor("operator", now)).toBe(0);
			budget.take("operator", now);
		}
		expect(budget.remaining(now)).toBe(0);
		expect(budget.waitFor("background", 1_000 + WINDOW_MS)).toBeGreaterThan(0);
		// Once 11 units have aged out, one background read may go again.
		expect(budget.waitFor("background", 1_000 + WINDOW_MS + 10 * 10)).toBe(0);
	});

	it("takes a unit when a request is sent, before its answer: reads in flight count", () => {
		const budget = new GroupBudget(RESERVED, 1_000);
		for (let i = 0; i < 110; i++) budget.take("background", 5);
		expect(budget.remaining(5)).toBe(10);
		expect(budget.waitFor("background", 5)).toBeGreaterThan(0);
	});

	it("has at most a few background reads in flight, whatever is left", () => {
		const budget = new GroupBudget();
		for (let i = 0; i < MAX_BACKGROUND_IN_FLIGHT; i++) budget.take("background", 0);
		expect(budget.waitFor("background", 0)).toBe(Number.POSITIVE_INFINITY);
		expect(budget.waitFor("operator", 0)).toBe(0);
		budget.done("background");
		expect(budget.waitFor("background", 0)).toBe(0);
	});

	it("holds what the server counted beyond this tab's own sends until the window is full again", () => {
		const budget = new GroupBudget();
		budget.take("background", 1_000);
		budget.done("background");
		// Another client spent 100 with the same token: the answer says 19 left, this tab sent 1.
		budget.observe(reading(19, 30_000), 1_000, 1_050);
		expect(budget.remaining(1_100)).toBe(19);
		expect(budget.waitFor("background", 1_100)).toBe(0);
		for (let i = 0; i < 9; i++) {
			budget.take("background", 1_200);
			budget.done("background");
		}
		expect(budget.remaining(1_200)).toBe(10);
		expect(budget.waitFor("background", 1_200)).toBe(30_000 - 1_200);
		// After the server's reset the others' use no longer counts; this tab's own still does.
		expect(budget.remaining(30_000)).toBe(110);
	});

	it("takes the token's own limit from the answers, with a smaller reserve when the limit is small", () => {
		const budget = new GroupBudget();
		budget.observe(reading(20, 60_000, 20), 0, 0);
		expect(budget.reserve).toBe(5);
		expect(budget.remaining(0)).toBe(20);
	});

	it("starts afresh for another token", () => {
		const budget = new GroupBudget();
		for (let i = 0; i < 110; i++) budget.take("background", 0);
		budget.observe(reading(0, 60_000), 0, 0);
		budget.reset();
		expect(budget.remaining(0)).toBe(120);
		expect(budget.waitFor("background", 0)).toBe(0);
	});
});

describe("the queue in front of the budget", () => {
	afterEach(() => {
		vi.useRealTimers();
	});

	it("lets through at most limit − reserve background reads in any window, FIFO, and never holds an action", async () => {
		vi.useFakeTimers();
		const start = Date.now();
		const gate = new BudgetGate(new GroupBudget(), () => Date.now());
		const sentAt: number[] = [];
		const order: number[] = [];
		// 26 rows each asking every 10 s for two minutes: far more than the window allows.
		const reads: Promise<void>[] = [];
		for (let round = 0; round < 12; round++) {
			for (let row = 0; row < 26; row++) {
				const id = round * 26 + row;
				reads.push(
					gate.acquire("background").then(async (release) => {
						sentAt.push(Date.now());
						order.push(id);
						await new Promise((resolve) => setTimeout(resolve, 50));
						release();
					}),
				);
			}
			await vi.advanceTimersByTimeAsync(10_000);
		}
		let actionWait = -1;
		const asked = Date.now();
		await gate.acquire("operator").then((release) => {
			actionWait = Date.now() - asked;
			release();
		});
		expect(actionWait).toBe(0);
		await vi.advanceTimersByTimeAsync(5 * 60_000);
		await Promise.all(reads);
		expect(order).toEqual([...order].sort((a, b) => a - b));
		for (const at of sentAt) {
			const inWindow = sentAt.filter((other) => other > at - 60_000 && other <= at).length;
			expect(inWindow).toBeLessThanOrEqual(120 - RESERVED);
		}
		expect(sentAt[0]).toBe(start);
		expect(gate.waiting).toBe(0);
	});

	it("drops a read whose signal aborts while it waits", async () => {
		const gate = new BudgetGate(new GroupBudget(RESERVED, 1));
		const first = await gate.acquire("background");
		const controller = new AbortController();
		const waiting = gate.acquire("background", controller.signal);
		expect(gate.waiting).toBe(1);
		controller.abort(new Error("page left"));
		await expect(waiting).rejects.toThrow("page left");
		expect(gate.waiting).toBe(0);
		first();
	});
});
