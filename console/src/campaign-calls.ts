import { useEffect, useRef, useState } from "preact/hooks";
import { getAll } from "./api";
import type { CallSpan } from "./chart-data";
import { onAccountEvent, onStreamGap } from "./events";
import { type SkippedContact, skippedFromCall } from "./skipped";
import type { Call } from "./types";

/** At 100 calls a page, the chart reads at most this many pages (2,000 calls) of a campaign's history. */
const MAX_PAGES = 20;

const spanOf = (call: Call): CallSpan => ({
	start: Date.parse(call.started_at ?? call.created_at),
	end: call.ended_at ? Date.parse(call.ended_at) : null,
});

/**
 * The campaign's calls as spans for the chart: its history from the calls list, then kept
 * current by call.started and call.completed. Read again after a gap in the stream (events
 * missed, `stream.gap`) and when the campaign ends (the last ends settle); every read spends
 * the autocall budget like any other (api.ts). Calls the contact
 * policy skipped were never dialled: they are no span, but say which contacts were skipped and why.
 */
export function useCampaignCalls(campaignId: string, final: boolean) {
	const spans = useRef(new Map<string, CallSpan>());
	const [skipped, setSkipped] = useState<SkippedContact[]>([]);
	const [version, setVersion] = useState(0);
	const [complete, setComplete] = useState(true);
	const [error, setError] = useState<unknown>();
	const bump = () => setVersion((n) => n + 1);

	const load = useRef(async () => {
		try {
			const { items, complete } = await getAll<Call>(
				`/api/autocall/campaigns/${encodeURIComponent(campaignId)}/calls`,
				MAX_PAGES,
			);
			const skips: SkippedContact[] = [];
			for (const call of items) {
				const skip = skippedFromCall(call);
				if (skip) {
					skips.push(skip);
					spans.current.delete(call.id);
					continue;
				}
				const known = spans.current.get(call.id);
				const read = spanOf(call);
				// An end heard from the stream meanwhile is newer than a list that still shows the call open.
				spans.current.set(call.id, { start: read.start, end: read.end ?? known?.end ?? null });
			}
			setSkipped(skips);
			setComplete(complete);
			setError(undefined);
			bump();
		} catch (failure) {
			setError(failure);
		}
	});

	useEffect(() => {
		void load.current();
		// Only when events were lost: a reconnection that resumes gets the missed ones replayed.
		const offGap = onStreamGap(() => void load.current());
		const offEvents = onAccountEvent((event) => {
			const { data } = event;
			if (data.campaign_id !== campaignId || typeof data.call_id !== "string") return;
			const at = Date.parse(event.created_at);
			const known = spans.current.get(data.call_id);
			if (event.type === "call.started") spans.current.set(data.call_id, { start: known?.start ?? at, end: known?.end ?? null });
			else if (event.type === "call.completed") spans.current.set(data.call_id, { start: known?.start ?? at, end: at });
			else return;
			bump();
		});
		return () => {
			offGap();
			offEvents();
		};
	}, [campaignId]);

	useEffect(() => {
		if (final) void load.current();
	}, [final]);

	return { spans: [...spans.current.values()], skipped, version, complete, error };
}
