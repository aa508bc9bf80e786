import { contactLedgerOf } from "../../durable-objects/contact-ledger";
import { forEachInParallel } from "../lib/parallel";

/** A number D1 has promised to the do-not-call list (a `do_not_call` disposition), until the ledger has it. */
export interface PendingListing {
	id: string;
	account_id: string;
	phone: string;
	reason: string | null;
}

/** Rows handed over per cron run; the rest wait for the next minute. */
const CRON_BATCH = 500;

/** The outbox row, written in the same D1 transaction as the disposition that asks for it. */
export const pendingListingStatement = (db: D1Database, listing: PendingListing, createdAt: string) =>
	db
		.prepare("INSERT INTO dnc_outbox (id, account_id, phone, reason, created_at) VALUES (?, ?, ?, ?, ?)")
		.bind(listing.id, listing.account_id, listing.phone, listing.reason, createdAt);

/**
 * Lists the number in the account's ledger, then drops the outbox row. The ledger takes each
 * row once, by its id (`takeListing`), so a hand-over repeated after a lost answer or a failed
 * delete, or by the cron and a request at once, lists the number once, and never again after
 * the owner took it off the list. Throws when the ledger did not take it (the row stays).
 */
export async function handOverListing(env: Env, listing: PendingListing): Promise<void> {
	await contactLedgerOf(env, listing.account_id).takeListing(listing.id, listing.phone, listing.reason);
	await env.DB.prepare("DELETE FROM dnc_outbox WHERE id = ?").bind(listing.id).run();
}

/** The minute cron's backstop: hands over every listing a request could not. Answers how many it did. */
export async function handOverPendingListings(env: Env): Promise<number> {
	const { results } = await env.DB.prepare("SELECT id, account_id, phone, reason FROM dnc_outbox ORDER BY created_at, id LIMIT ?")
		.bind(CRON_BATCH)
		.all<PendingListing>();
	let handed = 0;
	await forEachInParallel(results, 10, async (listing) => {
		try {
			await handOverListing(env, listing);
			handed++;
		} catch (error) {
			console.warn("do-not-call hand-over failed; next minute", error instanceof Error ? error.message : String(error));
		}
	});
	return handed;
}
