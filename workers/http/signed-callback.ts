import type { z } from "zod";
import { verifyProviderSignature } from "../lib/signatures";
import { parseJson, readBodyText, validate } from "./body";
import { ApiError } from "./errors";

const MAX_CALLBACK_BYTES = 64 * 1024;

/**
 * A provider's callback, authenticated by its `X-Callgate-Signature` over the exact body
 * (signed inbound routes carry no token), then parsed and validated.
 */
export async function readSignedCallback<S extends z.ZodType>(
	request: Request,
	secret: string | undefined,
	schema: S,
): Promise<z.infer<S>> {
	const text = await readBodyText(request, MAX_CALLBACK_BYTES);
	if (!(await verifyProviderSignature(secret ?? "", text, request.headers.get("X-Callgate-Signature")))) {
		throw new ApiError(401, "Invalid or missing callback signature.");
	}
	return validate(schema, parseJson(text));
}
