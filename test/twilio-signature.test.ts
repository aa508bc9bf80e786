import { describe, expect, it } from "vitest";
import { twilioSignature, urlSpellings, verifyTwilioSignature } from "../workers/carriers/twilio/signature";
import { hangupTwiml, redirectTwiml, xmlEscape } from "../workers/carriers/twilio/twiml";
import { standinSign } from "./support/carriers/twilio-standin";

const pairs = (params: Record<string, string>) => Object.entries(params);

// Twilio's documented example (docs/usage/webhooks/webhooks-security), whose signature the
// official library (twilio 6.2.0, getExpectedTwilioSignature) also gives.
const DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2";
const DOC_PARAMS = {
	CallSid: "CA1234567890ABCDE",
	Caller: "+12349013030",
	Digits: "1234",
	From: "+12349013030",
	To: "+18005551212",
};
const DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";

// Made with the official library (twilio 6.2.0, getExpectedTwilioSignature) in Node, for a
// callgate callback URL and parameters with non-ASCII text, `&`, `+`, `=` and `<`.
const LIB_URL = "https://callgate.test/api/webhooks/twilio/voice?call_id=5f0c6f0e-8b8a-4c55-9a55-6a0f0d3b8d11&leg=customer";
const LIB_PARAMS = {
	AccountSid: "AC00000000000000000000000000000001",
	CallSid: "CA0123456789abcdef0123456789abcdef",
	CallStatus: "no-answer",
	Timestamp: "Mon, 04 Mar 2030 15:00:07 +0000",
	ParentCallSid: "CAfedcba9876543210fedcba9876543210",
	Caller: "+84920000001",
	Body: "Hé & <ünïcode> ✓ a+b=c",
};
const LIB_SIGNATURE = "L/MLiANTQ40YZ8da7khy7k9cPMw=";
/** The same, signed over the URL with callgate's connection-override fragment. */
const LIB_SIGNATURE_WITH_FRAGMENT = "yi8FnNnq9e82ayH5MiP19WRcFrY=";
const TOKEN = "test-twilio-auth-token";

describe("X-Twilio-Signature", () => {
	it("computes Twilio's documented example and the official library's signatures", async () => {
		expect(await twilioSignature("12345", DOC_URL, pairs(DOC_PARAMS))).toBe(DOC_SIGNATURE);
		expect(await twilioSignature(TOKEN, LIB_URL, pairs(LIB_PARAMS))).toBe(LIB_SIGNATURE);
		expect(await twilioSignature(TOKEN, `${LIB_URL}#rc=3&rp=ct,rt,5xx`, pairs(LIB_PARAMS))).toBe(LIB_SIGNATURE_WITH_FRAGMENT);
		// The tests' stand-in signs the same way, so its callbacks are what Twilio would send.
		expect(await standinSign("12345", DOC_URL, DOC_PARAMS)).toBe(DOC_SIGNATURE);
		expect(await standinSign(TOKEN, LIB_URL, LIB_PARAMS)).toBe(LIB_SIGNATURE);
	});

	it("sorts parameter names case-sensitively, whatever order they came in", async () => {
		const shuffled = pairs(LIB_PARAMS).reverse();
		expect(await twilioSignature(TOKEN, LIB_URL, shuffled)).toBe(LIB_SIGNATURE);
		// Upper case sorts before lower case (Unix order): `Zeta` before `alpha`.
		const a = await twilioSignature("k", "https://x.test/", [
			["alpha", "1"],
			["Zeta", "2"],
		]);
		expect(a).toBe(await standinSign("k", "https://x.test/", { Zeta: "2", alpha: "1" }));
	});

	it("verifies a good signature and refuses a tampered body, URL, token, or a missing one", async () => {
		const ok = (header: string | null, url = LIB_URL, params: Record<string, string> = LIB_PARAMS, token = TOKEN) =>
			verifyTwilioSignature(token, header, [url], pairs(params));
		expect(await ok(LIB_SIGNATURE)).toBe(true);
		expect(await ok(LIB_SIGNATURE, LIB_URL, { ...LIB_PARAMS, CallStatus: "completed" })).toBe(false);
		expect(await ok(LIB_SIGNATURE, LIB_URL, { ...LIB_PARAMS, Extra: "1" })).toBe(false);
		expect(await ok(LIB_SIGNATURE, LIB_URL.replace("leg=customer", "leg=agent"))).toBe(false);
		expect(await ok(LIB_SIGNATURE, LIB_URL.replace("https://callgate.test", "https://evil.test"))).toBe(false);
		expect(await ok(LIB_SIGNATURE, LIB_URL, LIB_PARAMS, "another-token")).toBe(false);
		expect(await ok(LIB_SIGNATURE, LIB_URL, LIB_PARAMS, "")).toBe(false);
		expect(await ok(null)).toBe(false);
		expect(await ok("")).toBe(false);
		expect(await ok(`${LIB_SIGNATURE.slice(0, -2)}A=`)).toBe(false);
	});

	it("accepts the URL with the connection-override fragment and with the default port written out, as the official library does", async () => {
		const candidates = [LIB_URL, `${LIB_URL}#rc=3&rp=ct,rt,5xx`];
		expect(await verifyTwilioSignature(TOKEN, LIB_SIGNATURE_WITH_FRAGMENT, candidates, pairs(LIB_PARAMS))).toBe(true);
		const withPort = await twilioSignature(TOKEN, LIB_URL.replace("callgate.test", "callgate.test:443"), pairs(LIB_PARAMS));
		expect(await verifyTwilioSignature(TOKEN, withPort, [LIB_URL], pairs(LIB_PARAMS))).toBe(true);
		expect(urlSpellings("https://h.test:8443/p?q=1")).toEqual(["https://h.test:8443/p?q=1"]);
		expect(urlSpellings("http://h.test/p")).toEqual(["http://h.test/p", "http://h.test:80/p"]);
	});
});

describe("TwiML", () => {
	it("escapes everything it puts into the document", () => {
		expect(xmlEscape(`a&b<c>"d"'e'`)).toBe("a&amp;b&lt;c&gt;&quot;d&quot;&apos;e&apos;");
		const twiml = redirectTwiml("https://agents.test/answer?agent_id=x&call_id=<y>");
		expect(twiml).toBe(
			'<?xml version="1.0" encoding="UTF-8"?><Response><Redirect method="POST">https://agents.test/answer?agent_id=x&amp;call_id=&lt;y&gt;</Redirect></Response>',
		);
		expect(hangupTwiml()).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>');
	});
});
