import type { Campaign } from "./types";

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

const minuteOf = (hhmm: string) => {
	const [hours = 0, minutes = 0] = hhmm.split(":").map(Number);
	return hours * 60 + minutes;
};

/**
 * Whether the campaign's own window is open at `now`: a working day (1 = Monday … 7 = Sunday)
 * and a local time in [start_time, end_time) in the campaign's zone, not before scheduled_at.
 * The live `window_open` also weighs the recipient hours; this one does not, so the two
 * together say which window is holding calls back. DST needs no care here: the local wall
 * clock comes from Intl, as the pacer reads it. Undefined when the zone is unknown to the browser.
 */
export function campaignWindowOpen(campaign: Campaign, now: number): boolean | undefined {
	if (campaign.scheduled_at !== null && now < Date.parse(campaign.scheduled_at)) return false;
	let parts: Intl.DateTimeFormatPart[];
	try {
		parts = new Intl.DateTimeFormat("en-US", {
			timeZone: campaign.timezone,
			hourCycle: "h23",
			weekday: "short",
			hour: "2-digit",
			minute: "2-digit",
		}).formatToParts(new Date(now));
	} catch {
		return undefined;
	}
	const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
	const weekday = WEEKDAYS[part("weekday")] ?? 0;
	const minute = Number(part("hour")) * 60 + Number(part("minute"));
	return (
		campaign.working_days.includes(weekday) && minute >= minuteOf(campaign.start_time) && minute < minuteOf(campaign.end_time)
	);
}
