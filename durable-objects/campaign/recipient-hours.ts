import { type CampaignWindow, isWindowOpen, nextOpening } from "./schedule";

/**
 * The account's calling-hours rule at the recipient's end, as pure functions of an instant: a
 * campaign call starts only while the campaign's window is open (in the campaign's zone) and
 * the recipient hours are open in every zone the recipient may be in (see
 * workers/compliance/recipient-zone.ts), each DST-correct in its own zone.
 */
export interface RecipientHours {
	/** Minutes after local midnight, [start, end), every day of the week. */
	startMinute: number;
	endMinute: number;
}

export interface RecipientRule {
	/** Null: no recipient hours, the campaign's window alone decides. */
	hours: RecipientHours | null;
	/** A recipient whose zone is unknown: held to the campaign's zone, or not called at all. */
	unknownTimezone: "campaign" | "skip";
}

/** The account's default (SPEC): the campaign's window alone. */
export const NO_RECIPIENT_HOURS: RecipientRule = { hours: null, unknownTimezone: "campaign" };

const EVERY_DAY = [1, 2, 3, 4, 5, 6, 7] as const;

const DAY_MS = 86_400_000;
/** How far ahead an opening is looked for by default; a later one is looked for again from there. */
export const OPENING_HORIZON_MS = 8 * DAY_MS;
/**
 * How far the pacer looks for a recipient's turn before it gives up on the recipient: a year
 * and a day, so every DST change of every zone involved (and every weekday) has come round.
 */
export const FAR_HORIZON_MS = 366 * DAY_MS;

/** The recipient hours in one zone, as a window open every day. */
export function hoursIn(zone: string, hours: RecipientHours): CampaignWindow {
	return {
		timezone: zone,
		startMinute: hours.startMinute,
		endMinute: hours.endMinute,
		workingDays: EVERY_DAY,
		scheduledAt: null,
	};
}

/**
 * Every window a call to a recipient in `zones` must be inside: the campaign's, and with
 * recipient hours the hours in each of the recipient's zones (in the campaign's zone when
 * the recipient's is unknown and the rule says so). `skip`: the rule says a recipient of
 * unknown zone is not called.
 */
export function windowsFor(campaign: CampaignWindow, zones: readonly string[], rule: RecipientRule): CampaignWindow[] | "skip" {
	const { hours } = rule;
	if (!hours) return [campaign];
	if (zones.length === 0) return rule.unknownTimezone === "skip" ? "skip" : [campaign, hoursIn(campaign.timezone, hours)];
	return [campaign, ...zones.map((zone) => hoursIn(zone, hours))];
}

export const allOpen = (at: number, windows: readonly CampaignWindow[]) => windows.every((window) => isWindowOpen(at, window));

/**
 * The earliest instant ≥ `from` at which every window is open (`from` itself when they all
 * are), or null when there is none before `until`. Each round moves to the next opening of a
 * window that is closed at the current candidate, so the answer is exact to the minute in
 * every zone, whatever their DST changes. A window opens at most once a local day, so the
 * search takes at most a few rounds per day of the horizon: it goes day by day, never
 * minute by minute.
 */
export function nextCommonOpening(
	from: number,
	windows: readonly CampaignWindow[],
	until = from + OPENING_HORIZON_MS,
): number | null {
	let at = from;
	// Each round moves some window to its next opening (at most one a day each, two on a DST day): a bound, never reached.
	const maxRounds = 2 * windows.length * (Math.ceil((until - from) / DAY_MS) + 2);
	for (let round = 0; round < maxRounds && at < until; round++) {
		let moved = false;
		for (const window of windows) {
			const opening = nextOpening(at, window);
			if (opening === null) return null;
			if (opening > at) {
				at = opening;
				moved = true;
				break;
			}
		}
		if (!moved) return at;
	}
	return null;
}

/** Whether a call to a recipient in `zones` may start at `at`; a skipped recipient never may. */
export function isCallable(at: number, campaign: CampaignWindow, zones: readonly string[], rule: RecipientRule): boolean {
	const windows = windowsFor(campaign, zones, rule);
	return windows !== "skip" && allOpen(at, windows);
}

/**
 * When a recipient in `zones` next gets its turn: the next instant a call may start, or for a
 * recipient the rule skips, the campaign window's next opening (when it is skipped).
 */
export function nextTurn(
	from: number,
	campaign: CampaignWindow,
	zones: readonly string[],
	rule: RecipientRule,
	until = from + OPENING_HORIZON_MS,
): number | null {
	const windows = windowsFor(campaign, zones, rule);
	return windows === "skip" ? nextOpening(from, campaign) : nextCommonOpening(from, windows, until);
}

/** The earliest turn among recipients in these sets of zones (e.g. every zone a pending contact is in). */
export function earliestTurn(
	from: number,
	campaign: CampaignWindow,
	zoneSets: readonly (readonly string[])[],
	rule: RecipientRule,
): number | null {
	let earliest: number | null = null;
	for (const zones of zoneSets) {
		const turn = nextTurn(from, campaign, zones, rule, earliest ?? undefined);
		if (turn !== null && (earliest === null || turn < earliest)) earliest = turn;
		if (earliest === from) break;
	}
	return earliest;
}
