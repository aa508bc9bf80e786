import { useEffect, useState } from "preact/hooks";
import { onTokenChange } from "./auth";
import { onAccountEvent } from "./events";
import { type SkippedContact, skippedFromEvent } from "./skipped";

/**
 * `contact.skipped` events heard since sign-in, the last KEEP of them: a skip usually happens
 * in a campaign's first seconds, before anyone opens its page. Forgotten at sign-out (the next
 * token may be another account's).
 */
const KEEP = 200;
let heard: SkippedContact[] = [];
const listeners = new Set<() => void>();

onAccountEvent((event) => {
	const skipped = skippedFromEvent(event);
	if (!skipped) return;
	heard = [...heard.slice(1 - KEEP), skipped];
	for (const listener of listeners) listener();
});
onTokenChange(() => {
	heard = [];
});

/** The skipped contacts heard on the stream, kept current. */
export function useHeardSkips(): SkippedContact[] {
	const [skips, setSkips] = useState(heard);
	useEffect(() => {
		const update = () => setSkips(heard);
		listeners.add(update);
		update();
		return () => {
			listeners.delete(update);
		};
	}, []);
	return skips;
}
