import type { Campaign } from "./types";

/** A campaign's pacing and window: what the console's edit form changes. */
export interface Pacing {
	max_concurrent_calls: number;
	max_calls_per_day: number | null;
	start_time: string;
	end_time: string;
	timezone: string;
	working_days: number[];
}

export const pacingOf = (campaign: Campaign): Pacing => ({
	max_concurrent_calls: campaign.max_concurrent_calls,
	max_calls_per_day: campaign.max_calls_per_day,
	start_time: campaign.start_time,
	end_time: campaign.end_time,
	timezone: campaign.timezone,
	working_days: [...campaign.working_days].sort((a, b) => a - b),
});

/** Only what the operator changed: a PATCH of unchanged fields would hide what was meant. */
export function changedPacing(base: Pacing, edited: Pacing): Partial<Pacing> {
	const changes: Partial<Pacing> = {};
	for (const key of Object.keys(base) as (keyof Pacing)[]) {
		if (JSON.stringify(base[key]) !== JSON.stringify(edited[key])) Object.assign(changes, { [key]: edited[key] });
	}
	return changes;
}
