import type { AccountEvent } from "../events/event";

/** A message's events have fixed ids (one per type per message), so every path that writes one writes the same. */
export const smsEvent = (type: string, id: string, at: string, data: Record<string, unknown>): AccountEvent => ({
	id: `evt_${type.replace(".", "_")}_${id.replaceAll("-", "")}`,
	type,
	created_at: at,
	data: { message_id: id, ...data },
});
