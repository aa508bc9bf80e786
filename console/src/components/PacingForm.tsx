import { useState } from "preact/hooks";
import { ApiError } from "../api";
import { type Loaded, loadCampaign, patchCampaign } from "../campaigns";
import { ErrorNotice } from "../errors";
import { changedPacing, type Pacing, pacingOf } from "../pacing";

const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/**
 * Pacing and window edits. Editing starts from the version on screen and keeps its ETag: the
 * save is an If-Match on it, so a change made elsewhere meanwhile is a 412, shown as such,
 * with the choice to reload and apply the same changes to the new version, or to drop them.
 */
export function PacingForm({ loaded, onSaved }: { loaded: Loaded; onSaved: (loaded: Loaded) => void }) {
	const [editing, setEditing] = useState<{ base: Pacing; etag: string | null; values: Pacing }>();
	const [error, setError] = useState<unknown>();
	const [busy, setBusy] = useState(false);
	const [saved, setSaved] = useState(false);
	const { campaign } = loaded;

	const save = async (etag: string | null, base: Pacing, values: Pacing) => {
		const changes = changedPacing(base, values);
		if (Object.keys(changes).length === 0) {
			setEditing(undefined);
			return;
		}
		setBusy(true);
		setError(undefined);
		setSaved(false);
		try {
			onSaved(await patchCampaign(campaign.id, changes, etag));
			setEditing(undefined);
			setSaved(true);
		} catch (failure) {
			setError(failure);
		} finally {
			setBusy(false);
		}
	};

	/** After a 412: the same changes, over the version that is there now. */
	const reapply = async () => {
		if (!editing) return;
		try {
			const fresh = await loadCampaign(campaign.id);
			const base = pacingOf(fresh.campaign);
			const values = { ...base, ...changedPacing(editing.base, editing.values) };
			setEditing({ base, etag: fresh.etag, values });
			await save(fresh.etag, base, values);
		} catch (failure) {
			setError(failure);
		}
	};

	if (!editing) {
		return (
			<div>
				{saved && (
					<p class="notice notice-ok" role="status">
						Pacing saved.
					</p>
				)}
				<button
					type="button"
					class="secondary"
					onClick={() => {
						setSaved(false);
						const base = pacingOf(campaign);
						setEditing({ base, etag: loaded.etag, values: base });
					}}
				>
					Edit pacing…
				</button>
			</div>
		);
	}

	const { values } = editing;
	const set = (patch: Partial<Pacing>) => setEditing({ ...editing, values: { ...values, ...patch } });
	const stale = error instanceof ApiError && error.status === 412;
	return (
		<form
			class="card"
			aria-label="Edit pacing"
			onSubmit={(event) => {
				event.preventDefault();
				void save(editing.etag, editing.base, values);
			}}
		>
			<h2>Edit pacing</h2>
			<ErrorNotice error={error}>
				{stale && (
					<p>
						Someone changed this campaign after you started editing. Your changes are kept below.{" "}
						<button type="button" onClick={() => void reapply()} disabled={busy}>
							Reload and re-apply my changes
						</button>{" "}
						<button
							type="button"
							class="secondary"
							onClick={() => {
								setEditing(undefined);
								setError(undefined);
							}}
						>
							Discard my changes
						</button>
					</p>
				)}
			</ErrorNotice>
			<div class="grid">
				<label>
					Max concurrent calls (1–100)
					<input
						name="max_concurrent_calls"
						type="number"
						min={1}
						max={100}
						required
						value={values.max_concurrent_calls}
						onInput={(e) => set({ max_concurrent_calls: Number(e.currentTarget.value) })}
					/>
				</label>
				<label>
					Max calls per day (empty: no cap)
					<input
						name="max_calls_per_day"
						type="number"
						min={1}
						value={values.max_calls_per_day ?? ""}
						onInput={(e) => set({ max_calls_per_day: e.currentTarget.value === "" ? null : Number(e.currentTarget.value) })}
					/>
				</label>
				<label>
					Window start (local)
					<input
						name="start_time"
						type="time"
						required
						value={values.start_time}
						onInput={(e) => set({ start_time: e.currentTarget.value })}
					/>
				</label>
				<label>
					Window end (local)
					<input
						name="end_time"
						type="time"
						required
						value={values.end_time}
						onInput={(e) => set({ end_time: e.currentTarget.value })}
					/>
				</label>
				<label>
					Time zone (IANA)
					<input name="timezone" required value={values.timezone} onInput={(e) => set({ timezone: e.currentTarget.value })} />
				</label>
			</div>
			<fieldset>
				<legend>Working days</legend>
				{DAYS.map((day, index) => {
					const number = index + 1;
					return (
						<label class="inline" key={day}>
							<input
								type="checkbox"
								checked={values.working_days.includes(number)}
								onChange={(e) =>
									set({
										working_days: e.currentTarget.checked
											? [...values.working_days, number].sort((a, b) => a - b)
											: values.working_days.filter((d) => d !== number),
									})
								}
							/>
							{day}
						</label>
					);
				})}
			</fieldset>
			<div class="buttons">
				<button type="submit" disabled={busy}>
					{busy ? "Saving…" : "Save pacing"}
				</button>
				<button type="button" class="secondary" onClick={() => setEditing(undefined)}>
					Close
				</button>
			</div>
		</form>
	);
}
