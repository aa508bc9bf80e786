import { describe, expect, it } from "vitest";
import { DeadlineExceeded, withDeadline } from "../../workers/lib/deadline";

describe("withDeadline", () => {
	it("answers what the work answers in time, its failure included", async () => {
		await expect(withDeadline(Promise.resolve(7), 1_000, "work")).resolves.toBe(7);
		await expect(withDeadline(Promise.reject(new Error("boom")), 1_000, "work")).rejects.toThrow("boom");
	});

	it("rejects with DeadlineExceeded when the work has not answered by then", async () => {
		const never = new Promise<number>(() => undefined);
		const outcome = withDeadline(never, 5, "claim");
		await expect(outcome).rejects.toBeInstanceOf(DeadlineExceeded);
		await expect(outcome).rejects.toThrow("claim: no answer within 5 ms");
	});
});
