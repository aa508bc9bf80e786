import { describe, expect, it } from "vitest";
import { decideBegin, type Entry, finish } from "../../durable-objects/idempotency-entry";

const holder = () => "h2";
const response = { status: 201, headers: {}, body: "{}" };

describe("an Idempotency-Key's life", () => {
	it("an unknown key proceeds with a lock and a 24 h life", () => {
		expect(decideBegin(undefined, "fp", 1000, 30, 500, holder)).toEqual({
			result: { kind: "proceed", holder: "h2", now: 1000, expiresAt: 1500 },
			store: { state: "processing", fingerprint: "fp", holder: "h2", lockedUntil: 1030, expiresAt: 1500 },
		});
	});

	it("another body is a mismatch in every state; the same body replays, waits or takes over", () => {
		const processing: Entry = { state: "processing", fingerprint: "fp", holder: "h1", lockedUntil: 2000, expiresAt: 9000 };
		const done: Entry = { state: "done", fingerprint: "fp", response, expiresAt: 9000 };
		const released: Entry = { state: "released", fingerprint: "fp", expiresAt: 9000 };
		for (const entry of [processing, done, released])
			expect(decideBegin(entry, "other", 1000, 30, 500, holder).result).toEqual({ kind: "mismatch" });
		expect(decideBegin(done, "fp", 1000, 30, 500, holder).result).toEqual({ kind: "replay", response });
		expect(decideBegin(processing, "fp", 1000, 30, 500, holder).result).toEqual({ kind: "in-flight", retryAfterSeconds: 1 });
		expect(decideBegin(processing, "fp", 1, 30, 500, holder).result).toEqual({ kind: "in-flight", retryAfterSeconds: 2 });
		// A lapsed lock or a released key: a new holder, the key's life unchanged.
		expect(decideBegin(processing, "fp", 2000, 30, 500, holder).store).toMatchObject({ holder: "h2", expiresAt: 9000 });
		expect(decideBegin(released, "fp", 1000, 30, 500, holder).store).toMatchObject({
			holder: "h2",
			lockedUntil: 1030,
			expiresAt: 9000,
		});
	});

	it("only the current holder finishes the key", () => {
		const processing: Entry = { state: "processing", fingerprint: "fp", holder: "h1", lockedUntil: 2000, expiresAt: 9000 };
		expect(finish(processing, "h0", response)).toBeNull();
		expect(finish(processing, "h1", response)).toEqual({ state: "done", fingerprint: "fp", response, expiresAt: 9000 });
		expect(finish(processing, "h1")).toEqual({ state: "released", fingerprint: "fp", expiresAt: 9000 });
		expect(finish(undefined, "h1")).toBeNull();
	});
});
