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
	/**
	 * An earlier attempt of this write got no answer or a 5xx, so it may have taken effect even
	 * though this answer is an error: a 412 after a lost PUT may be the server refusing the
	 * repeat of a write it already applied. Re-read before doing it again.
	 */
	readonly afterLostAttempt: boolean;
	/** Set by the bulk helpers: what the chunks before the failing one did. */
	bulkProgress: BulkProgress | undefined;

	constructor(status: number, body: unknown, headers: Headers, request: string, afterLostAttempt = false) {
		const error = asErrorBody(body);
		super(error?.message ?? `HTTP ${status}`);
		this.status = status;
		this.errors = error?.errors;
		this.body = body;
		this.headers = headers;
		this.request = request;
		this.afterLostAttempt = afterLostAttempt;
	}
}

/**
 * What a bulk helper had done when one of its requests failed: the merged report of the
 * chunks that succeeded (an ImportReport or a BulkResult, as the helper returns), and how many
 * input items they covered — the failing chunk starts at index `processed`.
 */
export interface BulkProgress {
	processed: number;
	report: unknown;
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
	/** Set by the bulk helpers: what the chunks before the failing one did. */
	bulkProgress: BulkProgress | undefined;

	constructor(request: string, cause: unknown, mayHaveApplied: boolean) {
		super(`${request}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
		this.request = request;
		this.mayHaveApplied = mayHaveApplied;
	}
}

/**
 * `update()` cannot tell whether its write took effect: an attempt got no answer (or a 5xx),
 * the repeat met 412, and what the server holds now is not what the write would have made —
 * someone else wrote too, before or after it. Applying the change again could apply it twice,
 * so the client stops: `current` is what is there now (with `etag`), `attempted` the body it
 * sent. Decide from `current` whether the change is in, then call update() again if not.
 */
export class OutcomeUnknownError extends Error {
	override name = "OutcomeUnknownError";
	readonly request: string;
	readonly current: unknown;
	readonly etag: string | undefined;
	readonly attempted: unknown;

	constructor(request: string, details: { current: unknown; etag: string | undefined; attempted: unknown; cause: unknown }) {
		super(
			`${request}: an attempt got no answer and its repeat met 412; the resource now differs from what the write would make, so it may or may not have been applied`,
			{ cause: details.cause },
		);
		this.request = request;
		this.current = details.current;
		this.etag = details.etag;
		this.attempted = details.attempted;
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
export function errorFor(
	status: number,
	body: unknown,
	headers: Headers,
	request: string,
	afterLostAttempt = false,
): CallgateError {
	const Class = CLASSES[status] ?? (status >= 500 ? ServerError : CallgateError);
	return new Class(status, body, headers, request, afterLostAttempt);
}

function asErrorBody(body: unknown): ErrorBody | undefined {
	if (typeof body !== "object" || body === null || typeof (body as { message?: unknown }).message !== "string") return undefined;
	return body as ErrorBody;
}

/** A 429 for the connection cap (too many requests in flight), not for the rate limit. */
export const isConnectionRefusal = (status: number, body: unknown) =>
	status === 429 && /concurrent connections/i.test(asErrorBody(body)?.message ?? "");
