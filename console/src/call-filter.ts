import type { Call } from "./types";

export interface CallFilter {
	outcome: string;
	phone: string;
}

/** The filters the API has no parameter for, applied to the rows loaded: outcome, and a part of the number. */
export function filterCalls(calls: readonly Call[], filter: CallFilter): Call[] {
	const digits = filter.phone.replace(/[^\d+]/g, "");
	return calls.filter(
		(call) =>
			(filter.outcome === "" || (call.outcome ?? "none") === filter.outcome) && (digits === "" || call.to_phone.includes(digits)),
	);
}

/** The outcomes present, for the filter's choices. */
export const outcomesOf = (calls: readonly Call[]) => [...new Set(calls.map((call) => call.outcome ?? "none"))].sort();
