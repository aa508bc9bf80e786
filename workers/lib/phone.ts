import type { CountryCode } from "libphonenumber-js/max";
import { parsePhoneNumberFromString } from "libphonenumber-js/max";
import { invalidField } from "../http/errors";
import { fastE164 } from "./phone-fast";

/** E.164 for a number written as people write it, read in the account's default region. */
export function toE164(input: string, region: string): string | null {
	const trimmed = input.trim();
	const fast = fastE164(trimmed, region);
	if (fast !== undefined) return fast;
	const parsed = parsePhoneNumberFromString(trimmed, region as CountryCode);
	return parsed?.isValid() ? parsed.number : null;
}

export const invalidPhoneMessage = (region: string) => `Not a valid phone number (read in region ${region}).`;

/** 422 naming the field when the number is not valid. */
export function requirePhone(input: string, region: string, field: string): string {
	const e164 = toE164(input, region);
	if (!e164) throw invalidField(field, invalidPhoneMessage(region));
	return e164;
}
