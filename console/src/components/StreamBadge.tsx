import { useEffect, useState } from "preact/hooks";
import { onStreamState, type StreamState, streamState } from "../events";

const LABELS: Record<StreamState, string> = {
	connecting: "Connecting…",
	live: "Live",
	reconnecting: "Reconnecting…",
	stopped: "Not live",
};

/** Whether the event stream is up: counters only move live while it is. */
export function StreamBadge() {
	const [state, setState] = useState(streamState());
	useEffect(() => onStreamState(setState), []);
	return (
		<span class={`badge stream-${state}`} role="status" title="The account's event stream (GET /api/pbx/events)">
			{LABELS[state]}
		</span>
	);
}
