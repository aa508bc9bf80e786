import { describe, expect, it } from "vitest";
import { webhookUrlProblem } from "../../workers/webhooks/urls";

describe("production webhook URLs that spell loopback or private space in other forms", () => {
	it.each([
		// sslip.io spells IPv6 with dashes: --1 is ::1, fd00--1 is fd00::1.
		"https://--1.sslip.io/hooks",
		"https://fd00--1.sslip.io/hooks",
		// nip.io takes hex: 7f000001 is 127.0.0.1, a9fea9fe is 169.254.169.254.
		"https://7f000001.nip.io/hooks",
		"https://app-a9fea9fe.nip.io/hooks",
		// Not a host name at all (an empty label).
		"https://crm..example/hooks",
	])("%s is refused", (url) => {
		expect(webhookUrlProblem(url, "production")).not.toBeNull();
	});

	it.each([
		"https://hooks.example.com/x",
		"https://deadbeef.example.com/x", // de.ad.be.ef: public
		"https://a-b-c.example.com/x",
		"https://2001-db8--1.example.com/x", // documentation space, not private
	])("%s is accepted", (url) => {
		expect(webhookUrlProblem(url, "production")).toBeNull();
	});
});
