import type { OutboundSms, SendResult, SmsSender } from "../../sms/sender";
import {
	CLOCK_SKEW_MS,
	CONNECTION_OVERRIDES,
	callbackUrl,
	classifyCreate,
	firstUnclaimed,
	listPage,
	type TwilioConfig,
	twilioConfig,
	twilioFetch,
	utcDay,
} from "./client";

export const SMS_CALLBACK_PATH = "/api/webhooks/twilio/sms";

interface TwilioMessageRecord {
	sid?: string;
	date_created?: string;
	to?: string;
	from?: string;
	body?: string;
}

/** Create Message (POST /2010-04-01/Accounts/{sid}/Messages.json, form-encoded): To, From, Body, StatusCallback. */
export function createMessageParams(config: TwilioConfig, sms: OutboundSms): URLSearchParams {
	const params = new URLSearchParams();
	params.append("To", sms.to);
	params.append("From", sms.from ?? "");
	params.append("Body", sms.text);
	params.append(
		"StatusCallback",
		`${callbackUrl(config, SMS_CALLBACK_PATH, { message_id: sms.messageId })}${CONNECTION_OVERRIDES}`,
	);
	return params;
}

/**
 * The message Twilio may already have, when an earlier send got no answer (Twilio has no
 * idempotency key for Create Message either). Messages list by `To` and `From`, once with
 * `DateSent>=` the UTC day of the first ask and once unfiltered by date (the newest page: a
 * message still queued has no DateSent yet). A record counts if its body is this message's
 * text, Twilio created it no earlier than the first ask minus a clock skew, and no other
 * callgate message has its sid. It cannot tell this message from an identical text sent to
 * the same number from the same sender in that window by someone else on the account, and a
 * message Twilio does not list yet is sent again.
 */
async function findEarlierMessage(
	env: Env,
	config: TwilioConfig,
	sms: OutboundSms,
	firstAskedAt: number,
): Promise<{ found: string | null } | { failed: SendResult }> {
	const since = firstAskedAt - CLOCK_SKEW_MS;
	const from = sms.from ?? "";
	const pages = await Promise.all([
		listPage<TwilioMessageRecord>(
			config,
			"/Messages.json",
			new URLSearchParams({ To: sms.to, From: from, "DateSent>": utcDay(since), PageSize: "50" }),
			"messages",
		),
		listPage<TwilioMessageRecord>(
			config,
			"/Messages.json",
			new URLSearchParams({ To: sms.to, From: from, PageSize: "50" }),
			"messages",
		),
	]);
	const records: TwilioMessageRecord[] = [];
	for (const page of pages) {
		if (!page.ok) return { failed: page.result as SendResult };
		records.push(...page.records);
	}
	const same = records.filter((record) => record.to === sms.to && record.from === from && record.body === sms.text);
	return firstUnclaimed(env, same, since, { table: "sms_messages", column: "provider_message_id", exceptId: sms.messageId });
}

/** The Twilio SMS sender (SMS_PROVIDER=twilio); delivery reports come back to /api/webhooks/twilio/sms. */
export function twilioSmsSender(env: Env): SmsSender {
	return {
		simulated: false,
		async send(sms) {
			let config: TwilioConfig;
			try {
				config = twilioConfig(env);
			} catch (error) {
				return { kind: "transient", reason: error instanceof Error ? error.message : String(error) };
			}
			if (!sms.from) return { kind: "permanent", reason: "No sender to send from: Twilio needs a From number." };
			if (sms.firstAskedAt !== null && sms.firstAskedAt !== undefined) {
				let earlier: Awaited<ReturnType<typeof findEarlierMessage>>;
				try {
					earlier = await findEarlierMessage(env, config, sms, sms.firstAskedAt);
				} catch (error) {
					console.warn("twilio message look-up failed", error instanceof Error ? error.message : String(error));
					return { kind: "transient", reason: "The look-up for an earlier send failed.", uncertain: true };
				}
				if ("failed" in earlier) return earlier.failed;
				if (earlier.found) return { kind: "accepted", providerMessageId: earlier.found };
			}
			const result = await classifyCreate(() => twilioFetch(config, "POST", "/Messages.json", createMessageParams(config, sms)));
			if (result.kind !== "accepted") return result;
			return result.providerCallId ? { kind: "accepted", providerMessageId: result.providerCallId } : { kind: "accepted" };
		},
	};
}
