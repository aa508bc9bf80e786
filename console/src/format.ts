/** Display helpers: pure, locale-independent where a test reads the text. */

export function formatDuration(seconds: number | null): string {
	if (seconds === null) return "—";
	if (seconds < 60) return `${seconds}s`;
	const minutes = Math.floor(seconds / 60);
	const rest = seconds % 60;
	if (minutes < 60) return `${minutes}m ${String(rest).padStart(2, "0")}s`;
	return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
}

/** `2026-11-24 14:03:07` in the browser's zone: sortable, and the same shape everywhere. */
export function formatTime(iso: string | null, zone?: string): string {
	if (!iso) return "—";
	const date = new Date(iso);
	if (Number.isNaN(date.getTime())) return iso;
	const parts = new Intl.DateTimeFormat("en-CA", {
		timeZone: zone,
		year: "numeric",
		month: "2-digit",
		day: "2-digit",
		hour: "2-digit",
		minute: "2-digit",
		second: "2-digit",
		hourCycle: "h23",
	}).formatToParts(date);
	const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
	return `${part("year")}-${part("month")}-${part("day")} ${part("hour")}:${part("minute")}:${part("second")}`;
}

/** "in 42 s", "3 min ago": for resets and retries. */
export function formatRelative(targetMs: number, nowMs: number): string {
	const seconds = Math.round((targetMs - nowMs) / 1000);
	const size = Math.abs(seconds);
	const text = size < 90 ? `${size} s` : size < 5400 ? `${Math.round(size / 60)} min` : `${Math.round(size / 3600)} h`;
	if (seconds === 0) return "now";
	return seconds > 0 ? `in ${text}` : `${text} ago`;
}

/** A percentage for a progress figure; 0 of 0 is 0 %. */
export const percent = (part: number, whole: number) => (whole > 0 ? Math.round((part / whole) * 100) : 0);
