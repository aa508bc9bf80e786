import { type ImportPlan, lostCreates, settleRaces, unconfirmedCreates } from "./import-plan";

/**
 * An import's plan as its batch left it. Each insert skips a phone the target already holds,
 * or that a concurrent import took first (ON CONFLICT DO NOTHING), and D1 tells how many rows
 * each statement inserted (`meta.changes`): when every statement inserted every row it
 * carried, the plan stands as made and nothing more is read. Otherwise the phones of the short
 * statements' rows are looked up (`holdersOf`, one more round trip): a row whose phone another
 * row holds lost it, and is reported a duplicate of that row.
 */
export async function settleImport<T extends { phone: string }>(
	plan: ImportPlan<T>,
	inserts: { sizes: readonly number[]; results: readonly D1Result[] },
	holdersOf: (phones: string[]) => Promise<ReadonlyMap<string, string>>,
): Promise<ImportPlan<T>> {
	const changes = inserts.results.map((result) => result.meta.changes);
	const unconfirmed = unconfirmedCreates(plan.creates, inserts.sizes, changes);
	if (unconfirmed.length === 0) return plan;
	const holders = await holdersOf(unconfirmed.map((create) => create.phone));
	return settleRaces(plan, lostCreates(unconfirmed, holders), holders);
}
