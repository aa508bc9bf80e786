// Review of issue 12: a Retry-After longer than setTimeout's range (2^31-1 ms, about 24.8 days)
// is not honoured in Node: the timer fires after 1 ms, so the SDK's waits turn into a busy loop
// of 1 ms timers and the call never settles. FAILS on the current SDK.
// Run: npx tsc -p sdk && node --test sdk/test/review/retry-after-overflow.test.mjs
import assert from "node:assert/strict";
import { test } from "node:test";
import { Callgate } from "../../dist/index.js";

test("a 429 with a huge Retry-After neither hangs the call nor spins 1 ms timers", async () => {
	let requests = 0;
	const fetch = async () => {
		requests++;
		// 2,500,000 s: beyond setTimeout's range in ms (Node then fires after 1 ms, with a warning).
		return new Response(JSON.stringify({ message: "Too many requests. Retry after 2500000 seconds." }), {
			status: 429,
			headers: { "Content-Type": "application/json", "Retry-After": "2500000" },
		});
	};
	const realSetTimeout = globalThis.setTimeout;
	let timers = 0;
	globalThis.setTimeout = (callback, ms, ...rest) => {
		timers++;
		return realSetTimeout(callback, ms, ...rest);
	};
	process.removeAllListeners("warning");
	const client = new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch });
	const outcome = client.get("/api/pbx/users").then(
		() => "resolved",
		(error) => error.name,
	);
	const settled = await Promise.race([outcome, new Promise((resolve) => realSetTimeout(() => resolve("pending"), 500))]);
	globalThis.setTimeout = realSetTimeout;
	const timersIn500ms = timers;
	// The SDK's own timers keep the loop alive forever: leave once the runner has reported.
	realSetTimeout(() => process.exit(), 300).unref();
	// Whatever the policy (wait the real time, or give the 429 to the caller), 500 ms may not cost hundreds of timers.
	assert.ok(timersIn500ms < 20, `${timersIn500ms} timers in 500 ms: a busy loop (requests sent: ${requests})`);
	// A wait of 29 days is not something a CRM call can do: the 429 should reach the caller as RateLimitError.
	assert.equal(settled, "RateLimitError");
});
