import { useEffect, useRef, useState } from "preact/hooks";
import { get, newIdempotencyKey, rateReadings, request } from "./api";
import { backgroundWait } from "./budget";
import { onAccountEvent, onStreamState, streamState } from "./events";
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
}

/** Background reads wait while the autocall window is down to its reserve: pause and cancel must still get through. */
const held = () => backgroundWait(rateReadings.get("autocall"), Date.now());

/**
 * A campaign kept current: read once, again (spaced) after each event that names it and when
 * the stream comes back, and with `poll` on a slow timer while it is not final (faster while
 * the stream is down). `set` takes an answer the page already has (an action's), so it is
 * shown without another read.
 */
export function useLiveCampaign(id: string, { gapMs = REFRESH_GAP_MS, poll = true }: LiveOptions = {}) {
	const [loaded, setLoaded] = useState<Loaded>();
	const [error, setError] = useState<unknown>();
	const last = useRef(0);
	const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
	const status = loaded?.campaign.status;

	const refresh = useRef(async () => {
		last.current = Date.now();
		try {
			setLoaded(await loadCampaign(id));
			setError(undefined);
		} catch (failure) {
			setError(failure);
		}
	});

	useEffect(() => {
		void refresh.current();
		const soon = () => {
			if (timer.current) return;
			const wait = Math.max(last.current + gapMs - Date.now(), held(), 0);
			timer.current = setTimeout(() => {
				timer.current = undefined;
				void refresh.current();
			}, wait);
		};
		const offEvents = onAccountEvent((event) => {
			if (event.data.campaign_id === id) soon();
		});
		// Back from a gap in the stream: whatever happened meanwhile was not heard.
		const offState = onStreamState((state) => state === "live" && soon());
		return () => {
			offEvents();
			offState();
			clearTimeout(timer.current);
			timer.current = undefined;
		};
	}, [id, gapMs]);

	useEffect(() => {
		if (!poll || !status || FINAL.has(status)) return;
		const timer = setInterval(() => {
			const every = streamState() === "live" ? POLL_MS : POLL_OFFLINE_MS;
			if (Date.now() - last.current >= every && held() === 0) void refresh.current();
		}, POLL_OFFLINE_MS);
		return () => clearInterval(timer);
	}, [status, poll]);

	return { loaded, error, set: setLoaded, refresh: () => refresh.current() };
}
