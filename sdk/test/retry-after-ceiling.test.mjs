// A Retry-After longer than setTimeout's range (2^31-1 ms, about 24.8 days) is not honoured by
// Node: the timer fires after 1 ms, so waiting it out would be a loop of 1 ms timers that
// never settles. The client waits at most maxRetryAfterMs (5 minutes) and otherwise gives
// the 429 to the caller; no timer it sets is ever longer than setTimeout takes. In Node, on
// the built dist/, because the overflow is Node's (workerd's timers behave otherwise).
import assert from "node:assert/strict";
import { test } from "node:test";
import { Callgate } from "../dist/index.js";

test("a 429 with a huge Retry-After is a RateLimitError at once, without spinning 1 ms timers", { timeout: 5_000 }, async () => {
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
	const warnings = [];
	const onWarning = (warning) => warnings.push(warning.name);
	process.on("warning", onWarning);
	try {
		const client = new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch });
		const outcome = client.get("/api/pbx/users").then(
			() => "resolved",
			(error) => error.name,
		);
		const settled = await Promise.race([outcome, new Promise((resolve) => realSetTimeout(() => resolve("pending"), 500))]);
		assert.equal(settled, "RateLimitError");
		assert.equal(requests, 1);
		// The same client's next call in that group is held at most the ceiling, by one timer, not a loop.
		const stop = new AbortController();
		const held = client.get("/api/pbx/users", { signal: stop.signal }).catch((error) => error);
		timers = 0;
		await new Promise((resolve) => realSetTimeout(resolve, 300));
		assert.ok(timers < 5, `${timers} timers in 300 ms: a busy loop`);
		stop.abort();
		await held;
		await new Promise((resolve) => realSetTimeout(resolve, 10));
		assert.deepEqual(
			warnings.filter((name) => name === "TimeoutOverflowWarning"),
			[],
		);
	} finally {
		globalThis.setTimeout = realSetTimeout;
		process.off("warning", onWarning);
	}
});
