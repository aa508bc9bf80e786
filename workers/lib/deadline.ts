/** Rejects with this when the deadline passed first. */
export class DeadlineExceeded extends Error {
	constructor(what: string, ms: number) {
		super(`${what}: no answer within ${ms} ms`);
		this.name = "DeadlineExceeded";
	}
}

/**
 * `work`'s outcome, or a rejection once `ms` have passed without one. The work itself goes on
 * (an RPC cannot be recalled), so the caller must treat a missed deadline as "may have
 * happened": exactly a lost answer.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	const deadline = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new DeadlineExceeded(what, ms)), ms);
	});
	return Promise.race([work, deadline]).finally(() => {
		if (timer !== undefined) clearTimeout(timer);
	});
}
