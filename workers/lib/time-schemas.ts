import { z } from "zod";
import { isValidTimeZone } from "../../durable-objects/campaign/schedule";

/** A local wall-clock time of day. */
export const Clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "HH:MM, 24-hour local time.");

/** An IANA time zone this runtime knows (its Intl data decides). */
export const TimeZone = z.string().max(64).refine(isValidTimeZone, { message: "Not an IANA time zone, e.g. America/New_York." });
