import { describe, expect, it } from "vitest";
import { isValidSubscription, patternsFor } from "../../workers/webhooks/catalog";
import { webhookUrlProblem } from "../../workers/webhooks/schemas";

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

describe("event subscriptions", () => {
	it("exact types, prefix wildcards and * are valid; anything else is not", () => {
		expect(["*", "sms.*", "call.completed", "campaign.paused"].every(isValidSubscription)).toBe(true);
		expect(["call.exploded", "nope.*", "", "call"].some(isValidSubscription)).toBe(false);
		expect(patternsFor("call.completed")).toEqual(["*", "call.completed", "call.*"]);
	});
});
