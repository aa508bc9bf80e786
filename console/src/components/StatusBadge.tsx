/** A status as text first (colour only repeats it), so it reads the same to everyone. */
export function StatusBadge({ status }: { status: string }) {
	return <span class={`badge status-${status}`}>{status.replace("_", " ")}</span>;
}
