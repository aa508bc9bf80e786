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

/** How far ahead an opening is looked for; a later one is looked for again from there. */
export const OPENING_HORIZON_MS = 8 * 86_400_000;
/** Each round moves to a later window opening, a few a day: far more than the horizon needs. */
const MAX_ROUNDS = 256;

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
 * every zone, whatever their DST changes.
 */
export function nextCommonOpening(
	from: number,
	windows: readonly CampaignWindow[],
	until = from + OPENING_HORIZON_MS,
): number | null {
	let at = from;
	for (let round = 0; round < MAX_ROUNDS && at < until; round++) {
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
