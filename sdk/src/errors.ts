/** The server's error body: every error has `message`; a 422 names each field in `errors`. */
export interface ErrorBody {
	message: string;
	errors?: Record<string, string[]>;
	/** On a 409 for a duplicate: the resource that already exists. */
	existing_id?: string;
}

/** An answer with a 4xx or 5xx status, after any retries the client made. */
export class CallgateError extends Error {
	override name = "CallgateError";
	readonly status: number;
	/** Field path → messages, for a 422. */
	readonly errors: Record<string, string[]> | undefined;
	readonly body: unknown;
	readonly headers: Headers;
	/** "POST /api/pbx/calls/click-to-call" */
	readonly request: string;

	constructor(status: number, body: unknown, headers: Headers, request: string) {
		const error = asErrorBody(body);
		super(error?.message ?? `HTTP ${status}`);
		this.status = status;
		this.errors = error?.errors;
		this.body = body;
		this.headers = headers;
		this.request = request;
	}
}

/** 400: malformed JSON, a bad cursor or a bad Idempotency-Key. */
export class BadRequestError extends CallgateError {
	override name = "BadRequestError";
}
/** 401: the token is missing, invalid, expired or revoked. */
export class AuthenticationError extends CallgateError {
	override name = "AuthenticationError";
}
/** 403: not allowed for this token. */
export class PermissionError extends CallgateError {
	override name = "PermissionError";
}
/** 404: no such resource (another account's included). */
export class NotFoundError extends CallgateError {
	override name = "NotFoundError";
}
/** 409: the resource's state forbids it, or it exists already (`existingId`). */
export class ConflictError extends CallgateError {
	override name = "ConflictError";
	get existingId(): string | undefined {
		return asErrorBody(this.body)?.existing_id;
	}
}
/** 412: If-Match named a version that is no longer current. */
export class PreconditionFailedError extends CallgateError {
	override name = "PreconditionFailedError";
}
/** 422: validation failed (`errors` names each field), or an Idempotency-Key reused with another body. */
export class ValidationError extends CallgateError {
	override name = "ValidationError";
}
/** 429 after every attempt the client was allowed. */
export class RateLimitError extends CallgateError {
	override name = "RateLimitError";
}
/** 5xx after every attempt the client was allowed (or at once, for a write it could not safely repeat). */
export class ServerError extends CallgateError {
	override name = "ServerError";
}

/**
 * No answer: the connection failed or timed out. `mayHaveApplied` is true for a write that
 * could not be repeated safely (no Idempotency-Key): it may or may not have taken effect.
 */
export class NetworkError extends Error {
	override name = "NetworkError";
	readonly request: string;
	readonly mayHaveApplied: boolean;

	constructor(request: string, cause: unknown, mayHaveApplied: boolean) {
		super(`${request}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
		this.request = request;
		this.mayHaveApplied = mayHaveApplied;
	}
}

const CLASSES: Record<number, typeof CallgateError> = {
	400: BadRequestError,
	401: AuthenticationError,
	403: PermissionError,
	404: NotFoundError,
	409: ConflictError,
	412: PreconditionFailedError,
	422: ValidationError,
	429: RateLimitError,
};

/** The typed error for an error answer. */
export function errorFor(status: number, body: unknown, headers: Headers, request: string): CallgateError {
	const Class = CLASSES[status] ?? (status >= 500 ? ServerError : CallgateError);
	return new Class(status, body, headers, request);
}

function asErrorBody(body: unknown): ErrorBody | undefined {
	if (typeof body !== "object" || body === null || typeof (body as { message?: unknown }).message !== "string") return undefined;
	return body as ErrorBody;
}
