import { z } from "zod";
import { type FieldErrors, invalidFields } from "./errors";

/**
 * Fields of every versioned representation that a client cannot change but may send back, so
 * that a PUT or PATCH takes what GET returned. `id` must be this resource's; version and
 * timestamps describe the client's copy rather than the change, so any value is ignored and
 * If-Match does the locking.
 */
export const readOnlyFields = {
	id: z.uuid().optional().describe("Read-only: may be sent back as GET returned it; another id is a 422."),
	version: z.int().optional().describe("Read-only: ignored (send If-Match to write only over that version)."),
	created_at: z.iso.datetime().optional().describe("Read-only: ignored."),
	updated_at: z.iso.datetime().optional().describe("Read-only: ignored."),
};

type Standard = keyof typeof readOnlyFields;

const ISO_INSTANT = /^\d{4}-\d\d-\d\dT/;

/** Equal as a client means it: ids in any case, instants in any ISO spelling, arrays and objects by content. */
function sameValue(sent: unknown, current: unknown): boolean {
	if (typeof sent === "string" && typeof current === "string") {
		if (sent.toLowerCase() === current.toLowerCase()) return true;
		return ISO_INSTANT.test(sent) && ISO_INSTANT.test(current) && Date.parse(sent) === Date.parse(current);
	}
	return JSON.stringify(sent) === JSON.stringify(current);
}

/**
 * Takes a write's body that may be a whole GET representation back to the fields it may
 * change. Each of `fixed` (field → the resource's current value: its id, the identifier in the
 * path, anything the write cannot change) that is sent must equal the current value, else 422
 * naming it; `ignored` fields (live figures, state the server keeps) and version and
 * timestamps are dropped whatever they hold.
 */
export function takeBack<T extends Record<string, unknown>, F extends keyof T & string, I extends keyof T & string = never>(
	body: T,
	fixed: Record<F, unknown>,
	ignored: readonly I[] = [],
): Omit<T, F | I | Standard> {
	const errors: FieldErrors = {};
	for (const field of Object.keys(fixed) as F[]) {
		const sent = body[field];
		if (sent !== undefined && !sameValue(sent, fixed[field])) {
			errors[field] = [`Read-only: cannot be changed here; send ${JSON.stringify(fixed[field])} or leave it out.`];
		}
	}
	if (Object.keys(errors).length > 0) throw invalidFields(errors);
	const changes: Record<string, unknown> = { ...body };
	for (const field of [...Object.keys(fixed), ...ignored, ...Object.keys(readOnlyFields)]) delete changes[field];
	return changes as Omit<T, F | I | Standard>;
}
