import type { SmsSender } from "../../sms/sender";
import { classifyTelnyx, telnyxFetch, thrown, webhookUrl } from "./api";

/**
 * Telnyx Messaging (`POST /v2/messages`: from, to, text, webhook_url). Delivery reports
 * (message.sent, message.finalized) come to the one Telnyx webhook route; they are mapped back
 * by Telnyx's message id (stored as the message's provider_message_id), or, when the send's
 * answer was lost and that id never stored, by the `message_id` callgate put in the message's
 * webhook_url, which Telnyx echoes inside the signed payload.
 *
 * Telnyx has no idempotency key for messages. A send asked again (`firstAskedAt`) first looks at
 * callgate's own record: a message Telnyx reported on (sent, delivered, failed) or whose id was
 * stored is not sent again. What that cannot see: a first request that reached Telnyx, whose
 * answer was lost and whose message.sent has not arrived yet; that message is sent again.
 */
export function telnyxSmsSender(env: Env): SmsSender {
	return {
		simulated: false,
		async send(sms) {
			if (!sms.from) return { kind: "permanent", reason: "No sender: Telnyx needs a `from` number for every message." };
			if (sms.firstAskedAt !== null) {
				const row = await env.DB.prepare("SELECT status, provider_message_id FROM sms_messages WHERE id = ?")
					.bind(sms.messageId)
					.first<{ status: string; provider_message_id: string | null }>();
				if (row?.provider_message_id) return { kind: "accepted", providerMessageId: row.provider_message_id };
				if (row && row.status !== "queued") return { kind: "accepted" };
			}
			let response: Response;
			try {
				response = await telnyxFetch(env, "POST", "/v2/messages", messageRequest(env, sms));
			} catch (error) {
				return thrown(error);
			}
			const { result, text } = await classifyTelnyx(response);
			if (result.kind !== "accepted") return result;
			let id: unknown;
			try {
				id = (JSON.parse(text) as { data?: { id?: unknown } }).data?.id;
			} catch {
				id = undefined;
			}
			return typeof id === "string" && id.length > 0 && id.length <= 200
				? { kind: "accepted", providerMessageId: id }
				: { kind: "accepted" };
		},
	};
}

export function messageRequest(env: Env, sms: { messageId: string; to: string; from: string | null; text: string }) {
	return {
		from: sms.from,
		to: sms.to,
		text: sms.text,
		webhook_url: `${webhookUrl(env)}?message_id=${sms.messageId}`,
	};
}
