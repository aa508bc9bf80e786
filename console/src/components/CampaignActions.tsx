import { useState } from "preact/hooks";
import { campaignAction, FINAL, type Loaded } from "../campaigns";
import { ErrorNotice } from "../errors";
import type { Campaign } from "../types";

type Action = "pause" | "resume" | "cancel";

/** Pause, resume, cancel (cancel asks once more: it is final). Each click is one keyed request. */
export function CampaignActions({ campaign, onDone }: { campaign: Campaign; onDone: (loaded: Loaded) => void }) {
	const [busy, setBusy] = useState<Action>();
	const [confirming, setConfirming] = useState(false);
	const [error, setError] = useState<unknown>();
	const { status } = campaign;

	const run = async (action: Action) => {
		setBusy(action);
		setError(undefined);
		try {
			onDone(await campaignAction(campaign.id, action));
			setConfirming(false);
		} catch (failure) {
			setError(failure);
		} finally {
			setBusy(undefined);
		}
	};

	if (FINAL.has(status)) return null;
	return (
		<div class="actions">
			<div class="buttons">
				{(status === "active" || status === "scheduled") && (
					<button type="button" disabled={busy !== undefined} onClick={() => void run("pause")}>
						{busy === "pause" ? "Pausing…" : "Pause"}
					</button>
				)}
				{status === "paused" && (
					<button type="button" disabled={busy !== undefined} onClick={() => void run("resume")}>
						{busy === "resume" ? "Resuming…" : "Resume"}
					</button>
				)}
				{confirming ? (
					<>
						<button type="button" class="danger" disabled={busy !== undefined} onClick={() => void run("cancel")}>
							{busy === "cancel" ? "Cancelling…" : "Yes, cancel for good"}
						</button>
						<button type="button" class="secondary" onClick={() => setConfirming(false)}>
							Keep it
						</button>
					</>
				) : (
					<button type="button" class="secondary" disabled={busy !== undefined} onClick={() => setConfirming(true)}>
						Cancel campaign…
					</button>
				)}
			</div>
			<ErrorNotice error={error} />
		</div>
	);
}
