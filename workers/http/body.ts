import type { z } from "zod";
import { ApiError, validationError } from "./errors";

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

/** Reads at most `maxBytes` of the body, refusing early on Content-Length and while streaming. */
export async function readBodyText(request: Request, maxBytes: number): Promise<string> {
	const declared = Number(request.headers.get("Content-Length") ?? "0");
	if (declared > maxBytes) throw tooLarge(maxBytes);
	if (!request.body) return "";
	const reader = request.body.getReader();
	const chunks: Uint8Array[] = [];
	let size = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		size += value.byteLength;
		if (size > maxBytes) {
			await reader.cancel();
			throw tooLarge(maxBytes);
		}
		chunks.push(value);
	}
	const bytes = new Uint8Array(size);
	let offset = 0;
	for (const chunk of chunks) {
		bytes.set(chunk, offset);
		offset += chunk.byteLength;
	}
	try {
		return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
	} catch {
		throw new ApiError(400, "Request body is not valid UTF-8.");
	}
}

export function parseJson(text: string): unknown {
	if (text.trim() === "") throw new ApiError(400, "Request body must be a JSON document.");
	try {
		return JSON.parse(text);
	} catch {
		throw new ApiError(400, "Malformed JSON in request body.");
	}
}

export function validate<S extends z.ZodType>(schema: S, value: unknown, prefix: string[] = []): z.infer<S> {
	const result = schema.safeParse(value);
	if (!result.success) throw validationError(result.error, prefix);
	return result.data;
}

function tooLarge(maxBytes: number): ApiError {
	return new ApiError(413, `Request body is larger than ${maxBytes} bytes.`);
}
