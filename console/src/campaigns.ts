import { useEffect, useRef, useState } from "preact/hooks";
import { get, newIdempotencyKey, request } from "./api";
import { onAccountEvent, onStreamGap, streamState } from "./events";
import type { Campaign } from "./types";

export const FINAL = new Set(["completed", "cancelled", "failed"]);
const BASE = "/api/autocall/campaigns";

/** Refreshes are spaced at least this far apart: a busy campaign's events must not spend the autocall budget. */
const REFRESH_GAP_MS = 2_000;
/** Without the stream (or between events), a live campaign is read again this often. */
const POLL_MS = 15_000;
const POLL_OFFLINE_MS = 5_000;

export interface Loaded {
	campaign: Campaign;
	etag: string | null;
}

export async function loadCampaign(id: string, signal?: AbortSignal): Promise<Loaded> {
	const { body, etag } = await get<Campaign>(`${BASE}/${encodeURIComponent(id)}`, signal);
	return { campaign: body, etag };
}

/** pause, resume or cancel: one Idempotency-Key per click, kept across the client's retries. */
export async function campaignAction(id: string, action: "pause" | "resume" | "cancel"): Promise<Loaded> {
	const { body, etag } = await request<Campaign>("POST", `${BASE}/${encodeURIComponent(id)}/${action}`, {
		idempotencyKey: newIdempotencyKey(),
	});
	return { campaign: body, etag };
}

/** A pacing edit, only over the version the operator saw (If-Match): a change since is a 412. */
export async function patchCampaign(id: string, changes: Partial<Campaign>, etag: string | null): Promise<Loaded> {
	const { body, etag: next } = await request<Campaign>("PATCH", `${BASE}/${encodeURIComponent(id)}`, {
		body: changes,
		ifMatch: etag,
	});
	return { campaign: body, etag: next };
}

export interface LiveOptions {
	/** Least time between two reads that events or the stream asked for. */
	gapMs?: number;
	/** Also read on a timer while not final (a campaign's own page; not every row of the list). */
	poll?: boolean;
	/** Wait this long before the first read (the rows of a list, so that they do not all ask at once). */
	firstReadMs?: number;
}

/**
 * A campaign kept current: read once, again (spaced) after each event that names it and after a
 * gap in the stream (events missed), and with `poll` on a slow timer while it is not final
 * (faster while the stream is down). Every read goes through the autocall budget (api.ts), so
 * it may wait there; one read at a time, and what is asked meanwhile is one more read after
 * it. `set` takes an answer the page already has (an action's), so it is shown without a read.
 */
export function useLiveCampaign(id: string, { gapMs = REFRESH_GAP_MS, poll = true, firstReadMs = 0 }: LiveOptions = {}) {
	const [loaded, setLoaded] = useState<Loaded>();
	const [error, setError] = useState<unknown>();
	const last = useRef(0);
	const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
	const reading = useRef(false);
	const again = useRef(false);
	const alive = useRef(true);
	const status = loaded?.campaign.status;

	const refresh = useRef(async (): Promise<void> => {
		if (reading.current) {
			again.current = true;
			return;
		}
		reading.current = true;
		try {
			const read = await loadCampaign(id);
			// Stamped at the answer: a read that waited in the budget's queue still spaces the next one.
			last.current = Date.now();
			if (!alive.current) return;
			setLoaded(read);
			setError(undefined);
		} catch (failure) {
			last.current = Date.now();
			if (alive.current) setError(failure);
		} finally {
			reading.current = false;
		}
		if (again.current && alive.current) {
			again.current = false;
			soon.current();
		}
	});

	const soon = useRef(() => {
		if (timer.current) return;
		const wait = Math.max(last.current + gapMs - Date.now(), 0);
		timer.current = setTimeout(() => {
			timer.current = undefined;
			void refresh.current();
		}, wait);
	});

	useEffect(() => {
		alive.current = true;
		timer.current = setTimeout(() => {
			timer.current = undefined;
			void refresh.current();
		}, firstReadMs);
		const offEvents = onAccountEvent((event) => {
			if (event.data.campaign_id === id) soon.current();
		});
		// The stream could not replay what it missed: read again, whatever happened meanwhile.
		const offGap = onStreamGap(() => soon.current());
		return () => {
			alive.current = false;
			offEvents();
			offGap();
			clearTimeout(timer.current);
			timer.current = undefined;
		};
	}, [id, gapMs]);

	useEffect(() => {
		if (!poll || !status || FINAL.has(status)) return;
		const timer = setInterval(() => {
			const every = streamState() === "live" ? POLL_MS : POLL_OFFLINE_MS;
			if (Date.now() - last.current >= every) void refresh.current();
		}, POLL_OFFLINE_MS);
		return () => clearInterval(timer);
	}, [status, poll]);

	return { loaded, error, set: setLoaded, refresh: () => refresh.current() };
}
