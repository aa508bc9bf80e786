/** An account event: what SSE streams and webhooks carry. `id` is unique, for dedupe. */
export interface AccountEvent {
	id: string;
	type: string;
	created_at: string;
	data: Record<string, unknown>;
}

export const newEvent = (type: string, data: Record<string, unknown>, at = Date.now()): AccountEvent => ({
	id: `evt_${crypto.randomUUID().replaceAll("-", "")}`,
	type,
	created_at: new Date(at).toISOString(),
	data,
});

export const sseFrame = (event: AccountEvent) => `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
