export { type Backoff, backoffDelay, DEFAULT_BACKOFF, MAX_TIMER_MS, retryAfterMs } from "./backoff.js";
export {
	type BulkResult,
	type ChunkReport,
	type CsvChunk,
	chunkItems,
	type ImportReport,
	LIMITS,
	mergeBulkResults,
	mergeImportReports,
	splitCsv,
} from "./bulk.js";
export { MAX_CACHE_TTL_MS, MIN_CACHE_TTL_MS } from "./cache.js";
export { Callgate, type CallgateOptions, type ContactRow, type RetryInfo } from "./client.js";
export {
	AuthenticationError,
	BadRequestError,
	type BulkProgress,
	CallgateError,
	ConflictError,
	type ErrorBody,
	errorFor,
	NetworkError,
	NotFoundError,
	OutcomeUnknownError,
	PermissionError,
	PreconditionFailedError,
	RateLimitError,
	ServerError,
	ValidationError,
} from "./errors.js";
export { type AccountEvent, type EventStreamOptions, isStreamGap, type StreamGap, type StreamMessage } from "./events.js";
export type { components, operations, paths } from "./generated/openapi.js";
export { isIdempotencyKey, newIdempotencyKey } from "./keys.js";
export {
	DEFAULT_PACING,
	type PacingOptions,
	RateBudget,
	type RateObservation,
	readConnectionCap,
	readRateHeaders,
} from "./pacing.js";
export {
	type AttemptOutcome,
	DEFAULT_MAX_RETRY_AFTER_MS,
	DEFAULT_RETRY,
	type RetryDecision,
	type RetryPolicy,
	type RetryReason,
	retryDecision,
} from "./retry.js";
export { type SseMessage, SseParser } from "./sse.js";
export type { ApiResponse, CommonOptions, HttpMethod, PathsWith, RequestOptions, ResponseData, Schemas } from "./types.js";
export {
	type ClaimState,
	type DedupeOutcome,
	type DedupeStore,
	type HeadersLike,
	MemoryDedupeStore,
	signWebhook,
	timingSafeEqual,
	type VerifyOptions,
	verifyWebhook,
	WebhookDeduper,
	type WebhookEvent,
	WebhookVerificationError,
} from "./webhooks.js";
