import { describe, expect, it } from "vitest";
import {
	afterRefusal,
	DIAL_WINDOW_MS,
	d1RetryAt,
	dialDeadline,
	LATE_TOLERANCE_MS,
	lateReason,
	MAX_D1_RETRY_MS,
	tooLateToDial,
} from "../../durable-objects/dial-schedule";

const T0 = Date.UTC(2030, 0, 1);
const refusal = { reason: "HTTP 503" };

describe("dial window", () => {
	it("counts from the call's creation, measured by the sender", () => {
		expect(dialDeadline(T0, 0)).toBe(T0 + DIAL_WINDOW_MS);
		expect(dialDeadline(T0, 45_000)).toBe(T0 + DIAL_WINDOW_MS - 45_000);
		// A sender clock slightly behind ours never lengthens the window.
		expect(dialDeadline(T0, -2_000)).toBe(T0 + DIAL_WINDOW_MS);
	});

	it("a first dial a little late is placed; one well past the window is not", () => {
		const deadline = T0 + DIAL_WINDOW_MS;
		expect(tooLateToDial(deadline + LATE_TOLERANCE_MS, deadline)).toBe(false);
		expect(tooLateToDial(deadline + LATE_TOLERANCE_MS + 1, deadline)).toBe(true);
		expect(lateReason(0, null)).toBe("Not handed to the provider within 60 s of the request.");
		expect(lateReason(3, "HTTP 503")).toBe("The provider did not accept the call within 60 s of the request (last: HTTP 503).");
	});
});

describe("afterRefusal", () => {
	const deadline = T0 + DIAL_WINDOW_MS;

	it("backs off 1 s, doubling, with jitter", () => {
		expect(afterRefusal(0, deadline, T0, refusal, 0.5)).toEqual({ kind: "retry", at: T0 + 1_000, failures: 1 });
		expect(afterRefusal(1, deadline, T0, refusal, 0.5)).toEqual({ kind: "retry", at: T0 + 2_000, failures: 2 });
		expect(afterRefusal(3, deadline, T0, refusal, 0.5)).toEqual({ kind: "retry", at: T0 + 8_000, failures: 4 });
		const low = afterRefusal(3, deadline, T0, refusal, 0);
		const high = afterRefusal(3, deadline, T0, refusal, 0.999);
		expect(low.kind === "retry" && high.kind === "retry" && low.at < high.at).toBe(true);
	});

	it("never retries before the provider's Retry-After", () => {
		expect(afterRefusal(0, deadline, T0, { reason: "HTTP 429", retryAfterMs: 20_000 }, 0.5)).toEqual({
			kind: "retry",
			at: T0 + 20_000,
			failures: 1,
		});
	});

	it("a backoff that overshoots the window leaves one last try at its end", () => {
		const now = deadline - 10_000;
		expect(afterRefusal(5, deadline, now, refusal, 0.5)).toEqual({ kind: "retry", at: deadline, failures: 6 });
	});

	it("fails with the provider's last reason once the window is over, or when Retry-After reaches past it", () => {
		const reason = "The provider did not accept the call within 60 s of the request (last: HTTP 503).";
		expect(afterRefusal(6, deadline, deadline, refusal, 0.5)).toEqual({ kind: "fail", reason });
		expect(afterRefusal(0, deadline, T0, { reason: "HTTP 503", retryAfterMs: DIAL_WINDOW_MS + 1 }, 0.5)).toEqual({
			kind: "fail",
			reason,
		});
	});
});

describe("d1RetryAt", () => {
	it("retries D1 from 1 s, doubling, never waiting more than a minute", () => {
		expect(d1RetryAt(1, T0, 0.5)).toBe(T0 + 1_000);
		expect(d1RetryAt(2, T0, 0.5)).toBe(T0 + 2_000);
		expect(d1RetryAt(30, T0, 0.999)).toBe(T0 + MAX_D1_RETRY_MS);
	});
});
