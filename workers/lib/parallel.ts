/**
 * Runs `work` on every item with at most `limit` of them in flight, in order of the items; it
 * resolves once all have settled. `work` is expected not to throw: one that does rejects the
 * whole run (after the others settle), as Promise.all would.
 */
export async function forEachInParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
	let next = 0;
	const lane = async () => {
		while (next < items.length) {
			const item = items[next++] as T;
			await work(item);
		}
	};
	const lanes = Array.from({ length: Math.min(Math.max(1, limit), items.length) }, lane);
	const outcomes = await Promise.allSettled(lanes);
	const failed = outcomes.find((outcome) => outcome.status === "rejected");
	if (failed) throw failed.reason;
}
