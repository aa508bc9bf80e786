import type { z } from "zod";

export type FieldErrors = Record<string, string[]>;

/** Every failure a handler wants the client to see. Turned into a response only by `errorResponse`. */
export class ApiError extends Error {
	constructor(
		readonly status: number,
		message: string,
		readonly errors?: FieldErrors,
		readonly headers?: Record<string, string>,
		readonly extra?: Record<string, unknown>,
	) {
		super(message);
	}
}

export const notFound = (what = "Resource") => new ApiError(404, `${what} not found.`);

export const unauthorized = () => new ApiError(401, "Unauthenticated: a valid bearer token is required.");

export const forbidden = () => new ApiError(403, "This action needs a platform administrator.");

export function validationError(error: z.ZodError, prefix: string[] = []): ApiError {
	const errors: FieldErrors = {};
	for (const issue of error.issues) {
		const key = [...prefix, ...issue.path.map(String)].join(".") || "body";
		errors[key] = [...(errors[key] ?? []), issue.message];
	}
	return invalidFields(errors);
}

/** 422 with field errors: from a schema, or from checks that need the database or the account. */
export function invalidFields(errors: FieldErrors, message?: string): ApiError {
	const first = Object.entries(errors)[0];
	const summary = first ? `The given data was invalid: ${first[0]}: ${first[1][0]}` : "The given data was invalid.";
	return new ApiError(422, message ?? summary, errors);
}

export const invalidField = (field: string, message: string) => invalidFields({ [field]: [message] });

/** The one place an error becomes a response: `{"message", "errors"?}` and nothing internal. */
export function errorResponse(error: unknown): Response {
	if (error instanceof ApiError) {
		const body = { message: error.message, ...(error.errors ? { errors: error.errors } : {}), ...error.extra };
		return Response.json(body, { status: error.status, headers: error.headers });
	}
	console.error("unhandled error", error instanceof Error ? (error.stack ?? error.message) : String(error));
	return Response.json({ message: "Internal server error." }, { status: 500 });
}
