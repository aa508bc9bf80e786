import { z } from "zod";

/** Keys per lead or contact: with values of up to 1,000 characters, a row stays far below D1's 2 MB per value. */
export const MAX_ATTRIBUTES = 100;

export const Attributes = z
	.record(z.string().max(100), z.union([z.string().max(1000), z.number(), z.boolean(), z.null()]))
	.refine((attributes) => Object.keys(attributes).length <= MAX_ATTRIBUTES, {
		message: `At most ${MAX_ATTRIBUTES} attributes.`,
	})
	.meta({ maxProperties: MAX_ATTRIBUTES });
