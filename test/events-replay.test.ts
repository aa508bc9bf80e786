import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AccountEvents } from "../durable-objects/account-events";
import {
	type AccountEvent,
	newEvent,
	parsePosition,
	positionId,
	REPLAY_MAX_EVENTS,
	REPLAY_WINDOW_MS,
	STREAM_GAP,
} from "../workers/events/event";
import { call, pbxAccount } from "./helpers";

const eventsOf = (accountId: string) => env.ACCOUNT_EVENTS.get(env.ACCOUNT_EVENTS.idFromName(accountId));

const numbered = (count: number, from = 0) => Array.from({ length: count }, (_, i) => newEvent("sms.sent", { n: from + i }));

interface Frame {
	id?: string;
	event?: string;
	data?: Record<string, unknown>;
}

/** Reads a stream's SSE frames (comments dropped), keeping what it read past the frames asked for. */
function frameReader(response: Response) {
	const reader = response.body?.getReader();
	if (!reader) throw new Error("no stream");
	const decoder = new TextDecoder();
	const frames: Frame[] = [];
	let buffer = "";
	return {
		async take(count: number): Promise<Frame[]> {
			while (frames.length < count) {
				const { value, done } = await reader.read();
				if (done) break;
				buffer += decoder.decode(value, { stream: true });
				for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
					const frame: Frame = {};
					for (const line of buffer.slice(0, end).split("\n")) {
						if (line.startsWith("id: ")) frame.id = line.slice(4);
						else if (line.startsWith("event: ")) frame.event = line.slice(7);
						else if (line.startsWith("data: ")) frame.data = JSON.parse(line.slice(6));
					}
					if (frame.event) frames.push(frame);
					buffer = buffer.slice(end + 2);
				}
			}
			return frames.splice(0, count);
		},
		cancel: () => reader.cancel(),
	};
}

/** Reads a stream up to its position frame (`id: pos_<n>` without data); returns that id and the event ids before it. */
async function readToPosition(response: Response): Promise<{ position: string; before: string[] }> {
	const reader = response.body?.getReader();
	if (!reader) throw new Error("no stream");
	const decoder = new TextDecoder();
	let buffer = "";
	const before: string[] = [];
	for (;;) {
		const { value, done } = await reader.read();
		if (done) throw new Error("the stream ended before its position");
		buffer += decoder.decode(value, { stream: true });
		for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
			const lines = buffer.slice(0, end).split("\n");
			buffer = buffer.slice(end + 2);
			const id = lines.find((line) => line.startsWith("id: "))?.slice(4);
			if (id === undefined) continue;
			if (lines.some((line) => line.startsWith("data: "))) before.push(id);
			else {
				await reader.cancel();
				return { position: id, before };
			}
		}
	}
}

const resume = (token: string, lastEventId: string) =>
	call("/api/pbx/events", { token, headers: { "Last-Event-ID": lastEventId } });

const ids = (frames: Frame[]) => frames.map((frame) => frame.id ?? frame.event);

describe("GET /api/pbx/events with Last-Event-ID", () => {
	it("replays the events published after the id, in order, then continues live with none twice", async () => {
		const account = await pbxAccount();
		const earlier = numbered(5);
		await eventsOf(account.id).publish(earlier);
		const response = await resume(account.token, earlier[1]?.id ?? "");
		expect(response.status).toBe(200);
		const stream = frameReader(response);
		const replayed = await stream.take(3);
		expect(ids(replayed)).toEqual(earlier.slice(2).map((event) => event.id));
		expect(replayed[0]?.data).toMatchObject({ id: earlier[2]?.id, type: "sms.sent", data: { n: 2 } });

		// Live events follow the replay; one published again (a call's one call.completed can be) is not sent twice.
		const later = numbered(2, 5);
		await eventsOf(account.id).publish([later[0] as AccountEvent, earlier[4] as AccountEvent]);
		await eventsOf(account.id).publish([later[1] as AccountEvent, later[0] as AccountEvent]);
		expect(ids(await stream.take(2))).toEqual(later.map((event) => event.id));
		await stream.cancel();
	});

	it("the newest id replays nothing; without the header nothing is replayed", async () => {
		const account = await pbxAccount();
		const earlier = numbered(3);
		await eventsOf(account.id).publish(earlier);
		const streams = [() => resume(account.token, earlier[2]?.id ?? ""), () => call("/api/pbx/events", { token: account.token })];
		for (const open of streams) {
			const stream = frameReader(await open());
			const marker = newEvent("campaign.paused", {});
			await eventsOf(account.id).publish([marker]);
			expect(ids(await stream.take(1))).toEqual([marker.id]);
			await stream.cancel();
		}
	});

	it("an id no longer kept (or another account's) gets a stream.gap frame without an id, then every kept event", async () => {
		const [account, other] = await Promise.all([pbxAccount(), pbxAccount()]);
		const theirs = numbered(1);
		await eventsOf(other.id).publish(theirs);
		const kept = numbered(2);
		await eventsOf(account.id).publish(kept);
		for (const lastEventId of [theirs[0]?.id ?? "", "evt_never_sent"]) {
			const stream = frameReader(await resume(account.token, lastEventId));
			const frames = await stream.take(3);
			expect(frames[0]).toMatchObject({ event: STREAM_GAP, data: { type: STREAM_GAP, last_event_id: lastEventId } });
			expect(frames[0]?.id).toBeUndefined();
			expect(String(frames[0]?.data?.message)).toContain("no longer kept");
			expect(ids(frames.slice(1))).toEqual(kept.map((event) => event.id));
			await stream.cancel();
		}
	});

	it(`keeps at most ${REPLAY_MAX_EVENTS} events: a resume after one pushed out is a gap followed by the newest ${REPLAY_MAX_EVENTS}`, async () => {
		const account = await pbxAccount();
		const all = numbered(REPLAY_MAX_EVENTS + 5);
		await eventsOf(account.id).publish(all.slice(0, 500));
		await eventsOf(account.id).publish(all.slice(500));
		const kept = all.slice(5);
		const evicted = frameReader(await resume(account.token, all[4]?.id ?? ""));
		const afterGap = await evicted.take(kept.length + 1);
		expect(afterGap[0]?.event).toBe(STREAM_GAP);
		expect(ids(afterGap.slice(1))).toEqual(kept.map((event) => event.id));
		await evicted.cancel();
		const inside = frameReader(await resume(account.token, all[5]?.id ?? ""));
		expect(ids(await inside.take(kept.length - 1))).toEqual(kept.slice(1).map((event) => event.id));
		await inside.cancel();
	});

	it(`keeps events ${REPLAY_WINDOW_MS / 60_000} minutes: an older one is a gap, and is not replayed`, async () => {
		const account = await pbxAccount();
		const [old, recent] = numbered(2);
		if (!old || !recent) throw new Error("two events");
		await eventsOf(account.id).publish([old]);
		await runInDurableObject(eventsOf(account.id), (_: AccountEvents, state) => {
			state.storage.sql.exec("UPDATE recent_events SET published_at = ? WHERE id = ?", Date.now() - REPLAY_WINDOW_MS - 1, old.id);
		});
		await eventsOf(account.id).publish([recent]);
		const stream = frameReader(await resume(account.token, old.id));
		expect(ids(await stream.take(2))).toEqual([STREAM_GAP, recent.id]);
		await stream.cancel();
	});

	it("the kept events are durable: an evicted object still replays them", async () => {
		const account = await pbxAccount();
		const earlier = numbered(3);
		await eventsOf(account.id).publish(earlier);
		await evictDurableObject(eventsOf(account.id));
		const stream = frameReader(await resume(account.token, earlier[0]?.id ?? ""));
		expect(ids(await stream.take(2))).toEqual(earlier.slice(1).map((event) => event.id));
		await stream.cancel();
	});
});

describe("GET /api/pbx/events: the stream's position", () => {
	it("a stream opened without Last-Event-ID starts with its position, so one closed before any event resumes missing nothing", async () => {
		const account = await pbxAccount();
		await eventsOf(account.id).publish(numbered(2));
		const first = await readToPosition(await call("/api/pbx/events", { token: account.token }));
		expect(first).toEqual({ position: positionId(2), before: [] });
		// The stream is gone; events are published before the client reconnects.
		const meanwhile = numbered(3, 2);
		await eventsOf(account.id).publish(meanwhile);
		const stream = frameReader(await resume(account.token, first.position));
		expect(ids(await stream.take(3))).toEqual(meanwhile.map((event) => event.id));
		await stream.cancel();
	});

	it("a resumed stream's position follows its replay; a position with nothing after it replays nothing, no gap", async () => {
		const account = await pbxAccount();
		const earlier = numbered(3);
		await eventsOf(account.id).publish(earlier);
		const resumed = await readToPosition(await resume(account.token, earlier[0]?.id ?? ""));
		expect(resumed).toEqual({ position: positionId(3), before: earlier.slice(1).map((event) => event.id) });
		const quiet = await readToPosition(await resume(account.token, resumed.position));
		expect(quiet).toEqual({ position: positionId(3), before: [] });
		// Live events still follow a position-only resume.
		const stream = frameReader(await resume(account.token, resumed.position));
		const live = newEvent("campaign.paused", {});
		await eventsOf(account.id).publish([live]);
		expect(ids(await stream.take(1))).toEqual([live.id]);
		await stream.cancel();
	});

	it("a position whose following events are no longer kept, or beyond the account's sequence, is a gap then every kept event", async () => {
		const account = await pbxAccount();
		const [old, recent] = numbered(2);
		if (!old || !recent) throw new Error("two events");
		await eventsOf(account.id).publish([old]);
		await runInDurableObject(eventsOf(account.id), (_: AccountEvents, state) => {
			state.storage.sql.exec("UPDATE recent_events SET published_at = ? WHERE id = ?", Date.now() - REPLAY_WINDOW_MS - 1, old.id);
		});
		await eventsOf(account.id).publish([recent]);
		for (const lastEventId of [positionId(0), positionId(99)]) {
			const stream = frameReader(await resume(account.token, lastEventId));
			const frames = await stream.take(2);
			expect(frames[0]).toMatchObject({ event: STREAM_GAP, data: { last_event_id: lastEventId } });
			expect(ids(frames.slice(1))).toEqual([recent.id]);
			await stream.cancel();
		}
		// Everything after position 1 is kept: no gap.
		expect(await readToPosition(await resume(account.token, positionId(1)))).toEqual({
			position: positionId(2),
			before: [recent.id],
		});
	});

	it("positions are pos_ and digits only; anything else is an event id", () => {
		expect(parsePosition("pos_42")).toBe(42);
		expect(parsePosition(positionId(0))).toBe(0);
		for (const other of ["pos_", "pos_-1", "pos_1x", "evt_pos_1", "pos_1234567890123456"])
			expect(parsePosition(other)).toBeUndefined();
	});
});
