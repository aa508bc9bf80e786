import type { RateReading } from "./rate-headers";

/** Requests of a group kept back for what the operator does (pause, cancel) when its window runs low. */
export const RESERVED = 10;

/**
 * How long a background read (a refresh the operator did not ask for) should wait so that it
 * leaves the group's last `reserve` requests to the operator: until the window is full again
 * when the last response said only that many remain, else not at all.
 */
export function backgroundWait(reading: RateReading | undefined, now: number, reserve = RESERVED): number {
	if (!reading || reading.remaining > reserve) return 0;
	return Math.max(0, reading.resetAt - now);
}
