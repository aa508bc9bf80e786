/**
 * Leases of requests this isolate has answered whose release has not reached the guard yet,
 * by token hash. The next `admit` for the same token carries them (its guard drops them
 * before it counts), so a busy token pays one Durable Object round trip per request instead
 * of two; a lease no admit picked up within RELEASE_WAIT_MS is released on its own.
 *
 * Only lease ids (strings) cross from one request to another here: Durable Object stubs and
 * promises stay in the request that made them, as workerd requires.
 */
export class ReleaseQueue {
	private readonly byToken = new Map<string, Set<string>>();

	add(tokenHash: string, leaseId: string): void {
		const leases = this.byToken.get(tokenHash);
		if (leases) leases.add(leaseId);
		else this.byToken.set(tokenHash, new Set([leaseId]));
	}

	/** Whether the lease is still waiting (no admit or flush has taken it). */
	has(tokenHash: string, leaseId: string): boolean {
		return this.byToken.get(tokenHash)?.has(leaseId) ?? false;
	}

	/** Every lease waiting for the token, now the caller's to deliver. */
	take(tokenHash: string): string[] {
		const leases = this.byToken.get(tokenHash);
		if (!leases) return [];
		this.byToken.delete(tokenHash);
		return [...leases];
	}

	/** How many leases wait, over all tokens (tests and the bench read it). */
	get size(): number {
		let n = 0;
		for (const leases of this.byToken.values()) n += leases.size;
		return n;
	}
}

/**
 * How long an answered request's lease may wait for the next admit of its token before it is
 * released by a round trip of its own. The cap counts the slot meanwhile, so this bounds how
 * much longer than its request a slot can stay taken; for the requests of this isolate it
 * stays exact, since their next admit carries every release first.
 */
export const RELEASE_WAIT_MS = 20;
