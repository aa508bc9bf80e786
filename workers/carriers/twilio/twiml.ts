/** TwiML answers for the instructions route. Every value put into the document is XML-escaped. */

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

export const xmlEscape = (text: string) => text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);

const document = (body: string) => `<?xml version="1.0" encoding="UTF-8"?><Response>${body}</Response>`;

/** Twilio fetches these instructions from `url` (POST, signed by Twilio) and follows them. */
export const redirectTwiml = (url: string) => document(`<Redirect method="POST">${xmlEscape(url)}</Redirect>`);

export const hangupTwiml = () => document("<Hangup/>");

export interface BridgeLeg {
	/** The number the customer sees. */
	callerId: string;
	/** The customer, E.164. */
	to: string;
	/** Where the customer leg's progress is reported. */
	statusCallback: string;
	/** How long the customer's phone may ring, in seconds. */
	timeout: number;
	/**
	 * The bridge's longest conversation, in seconds (`<Dial timeLimit>`): Twilio counts it from
	 * the moment the customer answers and then hangs the customer's leg up.
	 */
	timeLimit: number;
}

/**
 * Bridges the customer into the answered agent's call: a `<Dial>` with one `<Number>` whose
 * own status callbacks (a child call, with a CallSid of its own) report the customer's leg.
 */
export const bridgeTwiml = (leg: BridgeLeg) =>
	document(
		`<Dial callerId="${xmlEscape(leg.callerId)}" timeout="${leg.timeout}" timeLimit="${leg.timeLimit}">` +
			`<Number statusCallback="${xmlEscape(leg.statusCallback)}" statusCallbackEvent="initiated ringing answered completed" statusCallbackMethod="POST">${xmlEscape(leg.to)}</Number>` +
			"</Dial>",
	);
