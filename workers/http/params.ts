import { z } from "zod";
import { notFound } from "./errors";

const Uuid = z.uuid();

/** Path ids that are not UUIDs cannot name anything: 404, like an id of another account. */
export function uuidParam(params: Record<string, string>, name: string, what: string): string {
	const value = params[name];
	if (!value || !Uuid.safeParse(value).success) throw notFound(what);
	return value.toLowerCase();
}
