import { afterEach, describe, expect, it, vi } from "vitest";
import { clientNetwork, holdSlot, LOGIN_LIMITS, loginBuckets } from "../../workers/guard/guard";

afterEach(() => {
	vi.useRealTimers();
});

describe("login buckets", () => {
	it("an attempt counts per IP and username, per IP and per username", () => {
		expect(loginBuckets("198.51.100.7", "Alice")).toEqual([
			{ name: "login:198.51.100.7:alice", group: "auth-login", limit: 5, failuresOnly: false },
			{ name: "login-ip:198.51.100.7", group: "auth-login-ip", limit: LOGIN_LIMITS.perIp, failuresOnly: true },
			{ name: "login-user:alice", group: "auth-login-user", limit: LOGIN_LIMITS.perUsername, failuresOnly: true },
		]);
		expect(loginBuckets("198.51.100.7", "alice", { "auth-login": 9 })[0]?.limit).toBe(9);
	});

	it("IPv6 clients are keyed by their /64; IPv4 and unparseable addresses as they are", () => {
		expect(clientNetwork("2001:db8:0:1:aaaa::1")).toBe("2001:db8:0:1::/64");
		expect(clientNetwork("2001:DB8:0000:0001:ffff:1:2:3")).toBe("2001:db8:0:1::/64");
		expect(clientNetwork("2001:db8::1")).toBe("2001:db8:0:0::/64");
		expect(clientNetwork("::1")).toBe("0:0:0:0::/64");
		expect(clientNetwork("203.0.113.9")).toBe("203.0.113.9");
		expect(clientNetwork("::ffff:203.0.113.9")).toBe("::ffff:203.0.113.9");
		expect(clientNetwork("unknown")).toBe("unknown");
	});
});

describe("holdSlot", () => {
	it("renews every period until stopped; a failed or refused renewal is harmless", async () => {
		vi.useFakeTimers();
		const answers: (() => Promise<boolean>)[] = [
			async () => true,
			async () => {
				throw new Error("TokenGuard unreachable");
			},
			async () => false,
		];
		let renewals = 0;
		const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
		const stop = holdSlot({ renew: () => (answers[renewals++ % answers.length] as () => Promise<boolean>)() }, 1_000);
		await vi.advanceTimersByTimeAsync(999);
		expect(renewals).toBe(0);
		await vi.advanceTimersByTimeAsync(3_001);
		expect(renewals).toBe(4);
		expect(warn).toHaveBeenCalledTimes(2);
		stop();
		await vi.advanceTimersByTimeAsync(10_000);
		expect(renewals).toBe(4);
		warn.mockRestore();
	});
});
