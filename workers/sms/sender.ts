import { telnyxSmsSender } from "../carriers/telnyx/sms";
import { twilioSmsSender } from "../carriers/twilio/sms";
import { deploymentProblems } from "../config/deployment";
import type { DialResult } from "../dialer/dial-result";

export interface OutboundSms {
	messageId: string;
	accountId: string;
	/** E.164. */
	to: string;
	/** The sender id the caller asked for, or null: the carrier adapter picks the account's default caller id then. */
	from: string | null;
	text: string;
	/**
	 * Set when callgate sends again a message whose earlier request got no answer: the carrier
	 * may already have it, so an adapter without idempotency keys looks first. Epoch ms.
	 */
	firstAskedAt: number | null;
}

/** What became of a send request: the same three answers as a dial (accepted, transient, permanent). */
export type SendResult = { kind: "accepted"; providerMessageId?: string } | Exclude<DialResult, { kind: "accepted" }>;

/** Sends SMS; delivery reports come back through the carrier's callback route (`applySmsCallback`). Never throws for a refusal. */
export interface SmsSender {
	/** Whether the sender reports delivery itself, right away (the simulated provider). */
	readonly simulated: boolean;
	send(sms: OutboundSms): Promise<SendResult>;
}

/** Local default: marked sent at once and delivered right after, nothing leaves the machine. */
const simulatedSender: SmsSender = {
	simulated: true,
	send: async () => ({ kind: "accepted" }),
};

export function smsSenderFor(env: Env): SmsSender {
	const problems = deploymentProblems(env);
	// A deployment that may not serve sends nothing; what is queued waits until it is fixed.
	if (problems.length) {
		return { simulated: false, send: async () => ({ kind: "transient", reason: `SMS is not configured: ${problems[0]}` }) };
	}
	switch (env.SMS_PROVIDER) {
		case "twilio":
			return twilioSmsSender(env);
		case "telnyx":
			return telnyxSmsSender(env);
		default:
			return simulatedSender;
	}
}
