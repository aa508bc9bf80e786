import type { AccountEvent } from "./event";

/** Delivers events to the account's live streams (webhook delivery hangs off here too). */
export async function publishEvents(env: Env, accountId: string, events: AccountEvent[]): Promise<void> {
	if (events.length === 0) return;
	await env.ACCOUNT_EVENTS.get(env.ACCOUNT_EVENTS.idFromName(accountId)).publish(events);
}
