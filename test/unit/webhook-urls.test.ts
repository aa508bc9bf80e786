import { describe, expect, it } from "vitest";
import { isValidSubscription, patternsFor } from "../../workers/webhooks/catalog";
import { webhookUrlProblem } from "../../workers/webhooks/urls";

describe("webhook URLs", () => {
	it.each([
		["https://crm.example/hooks", "production", null],
		["http://crm.example/hooks", "production", "Must be an https URL."],
		["http://127.0.0.1:4000/", "production", "Must be an https URL."],
		["http://127.0.0.1:4000/", "development", null],
		["http://localhost/hook", "development", null],
		["http://crm.example/hooks", "development", expect.stringContaining("https")],
		["https://user:secret@crm.example/", "production", "Credentials in the URL are not allowed."],
		["nonsense", "production", "Not a URL."],
	])("%s in %s", (url, environment, problem) => {
		expect(webhookUrlProblem(url, environment)).toEqual(problem);
	});
});

describe("webhook URLs in production: https on the default port to a public host name", () => {
	it.each([
		"https://crm.example/hooks",
		"https://hooks.crm.example.com:443/in?x=1",
		"https://crm.example./hooks",
		"https://8.8.8.8.nip.io/",
		"https://xn--bcher-kva.example/",
	])("%s is accepted", (url) => {
		expect(webhookUrlProblem(url, "production")).toBeNull();
	});

	it.each([
		["https://crm.example:8443/hooks", "port"],
		["https://crm.example:80/hooks", "port"],
		["https://93.184.216.34/hooks", "IP address"],
		["https://127.0.0.1/", "IP address"],
		["https://2130706433/", "IP address"],
		["https://0x7f.1/", "IP address"],
		["https://[::1]/", "IP address"],
		["https://[fe80::1]/", "IP address"],
		["https://[::ffff:10.0.0.1]/", "IP address"],
		["https://localhost/", "fully qualified"],
		["https://localhost./", "fully qualified"],
		["https://metadata/", "fully qualified"],
		["https://api.localhost/", "local or private"],
		["https://printer.local/", "local or private"],
		["https://metadata.google.internal/", "local or private"],
		["https://LOCALHOST.Internal./", "local or private"],
		["https://router.home.arpa/", "local or private"],
		["https://1.0.0.127.in-addr.arpa/", "local or private"],
		["https://files.corp/", "local or private"],
		["https://nas.lan/", "local or private"],
		["https://127.0.0.1.nip.io/", "private or loopback"],
		["https://10-0-0-1.sslip.io/", "private or loopback"],
		["https://app.192.168.1.20.nip.io/", "private or loopback"],
		["https://169.254.169.254.nip.io/", "private or loopback"],
		["https://x.172.20.0.1.example/", "private or loopback"],
		["https://app.lvh.me/", "private or loopback"],
		["https://localtest.me/", "private or loopback"],
	])("%s is refused (%s)", (url, reason) => {
		expect(webhookUrlProblem(url, "production")).toContain(reason);
	});

	it("development keeps its local receivers and any https URL", () => {
		for (const url of ["http://127.0.0.1:8799/hook", "http://localhost:4000/", "http://[::1]:9000/", "https://10.0.0.5:8443/"]) {
			expect(webhookUrlProblem(url, "development"), url).toBeNull();
		}
	});
});

describe("event subscriptions", () => {
	it("exact types, prefix wildcards and * are valid; anything else is not", () => {
		expect(["*", "sms.*", "call.completed", "campaign.paused"].every(isValidSubscription)).toBe(true);
		expect(["call.exploded", "nope.*", "", "call"].some(isValidSubscription)).toBe(false);
		expect(patternsFor("call.completed")).toEqual(["*", "call.completed", "call.*"]);
	});
});
