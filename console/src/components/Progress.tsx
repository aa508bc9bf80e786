import { percent } from "../format";

/** Done of total, as a native progress bar with its figures beside it. */
export function Progress({ done, total, label }: { done: number; total: number; label: string }) {
	return (
		<span class="progress">
			<progress max={Math.max(total, 1)} value={done} aria-label={label} />
			<span>
				{done} / {total} ({percent(done, total)} %)
			</span>
		</span>
	);
}
