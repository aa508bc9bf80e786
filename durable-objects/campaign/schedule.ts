/**
 * Working-hour windows in a campaign's IANA time zone, DST-correct, as pure functions of an
 * instant. A window is open on a working day (1 = Monday … 7 = Sunday) for local times in
 * [start, end), never across midnight, and never before `scheduledAt`.
 */
export interface CampaignWindow {
	timezone: string;
	/** Minutes after local midnight. */
	startMinute: number;
	endMinute: number;
	workingDays: readonly number[];
	/** Epoch ms; null when the campaign may start at once. */
	scheduledAt: number | null;
}

export interface LocalTime {
	/** YYYY-MM-DD in the zone: the key of the daily cap. */
	date: string;
	/** 1 = Monday … 7 = Sunday. */
	weekday: number;
	minute: number;
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat {
	let format = formatters.get(timezone);
	if (!format) {
		format = new Intl.DateTimeFormat("en-US", {
			timeZone: timezone,
			hourCycle: "h23",
			year: "numeric",
			month: "2-digit",
			day: "2-digit",
			hour: "2-digit",
			minute: "2-digit",
			second: "2-digit",
			weekday: "short",
		});
		formatters.set(timezone, format);
	}
	return format;
}

export function isValidTimeZone(timezone: string): boolean {
	try {
		formatter(timezone);
		return true;
	} catch {
		return false;
	}
}

function parts(at: number, timezone: string) {
	const values = Object.fromEntries(
		formatter(timezone)
			.formatToParts(new Date(at))
			.map((part) => [part.type, part.value]),
	);
	return {
		year: Number(values.year),
		month: Number(values.month),
		day: Number(values.day),
		hour: Number(values.hour),
		minute: Number(values.minute),
		second: Number(values.second),
		weekday: WEEKDAYS[values.weekday ?? ""] ?? 0,
	};
}

export function localTime(at: number, timezone: string): LocalTime {
	const p = parts(at, timezone);
	return {
		date: `${p.year}-${String(p.month).padStart(2, "0")}-${String(p.day).padStart(2, "0")}`,
		weekday: p.weekday,
		minute: p.hour * 60 + p.minute,
	};
}

/** The zone's offset from UTC at an instant, in ms (local wall clock − UTC). */
function offsetAt(at: number, timezone: string): number {
	const p = parts(at, timezone);
	const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
	return wall - Math.floor(at / 1000) * 1000;
}

/**
 * The first instant whose local wall time is at or after `minute` on the given local date.
 * In a spring-forward gap (02:30 that never happens) that is the first instant after the gap.
 */
export function instantOf(date: { year: number; month: number; day: number }, minute: number, timezone: string): number {
	const wall = Date.UTC(date.year, date.month - 1, date.day, Math.floor(minute / 60), minute % 60);
	// The instant is wall − offset, but the offset depends on the instant: try the offsets in force around it.
	const first = wall - offsetAt(wall, timezone);
	const candidates = [first, wall - offsetAt(first, timezone)].sort((a, b) => a - b);
	const exact = candidates.find((at) => localWall(at, timezone) === wall);
	if (exact !== undefined) return exact;
	// A spring-forward gap: that wall time never happens; the window opens when the gap ends.
	let at = candidates[0] ?? first;
	while (localWall(at, timezone) < wall) at += 60_000;
	return at;
}

function localWall(at: number, timezone: string): number {
	const p = parts(at, timezone);
	return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
}

export function isWindowOpen(at: number, window: CampaignWindow): boolean {
	if (window.scheduledAt !== null && at < window.scheduledAt) return false;
	const local = localTime(at, window.timezone);
	return window.workingDays.includes(local.weekday) && local.minute >= window.startMinute && local.minute < window.endMinute;
}

/** The earliest instant ≥ `from` at which the window is open (`from` itself if open now). */
export function nextOpening(from: number, window: CampaignWindow): number | null {
	const start = Math.max(from, window.scheduledAt ?? from);
	if (isWindowOpen(start, window)) return start;
	const first = parts(start, window.timezone);
	for (let offset = 0; offset <= 8; offset++) {
		const day = new Date(Date.UTC(first.year, first.month - 1, first.day + offset));
		const date = { year: day.getUTCFullYear(), month: day.getUTCMonth() + 1, day: day.getUTCDate() };
		const opening = instantOf(date, window.startMinute, window.timezone);
		if (opening >= start && isWindowOpen(opening, window)) return opening;
	}
	return null;
}

export const parseClock = (hhmm: string) => {
	const [hours, minutes] = hhmm.split(":").map(Number);
	return (hours ?? 0) * 60 + (minutes ?? 0);
};

/** The first instant of the local day `at` falls on. */
export function startOfLocalDay(at: number, timezone: string): number {
	const p = parts(at, timezone);
	return instantOf({ year: p.year, month: p.month, day: p.day }, 0, timezone);
}

/** The first instant of the local day after the one `at` falls on. */
export function startOfNextLocalDay(at: number, timezone: string): number {
	const p = parts(at, timezone);
	const next = new Date(Date.UTC(p.year, p.month - 1, p.day + 1));
	return instantOf({ year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: next.getUTCDate() }, 0, timezone);
}
