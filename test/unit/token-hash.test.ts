import { describe, expect, it } from "vitest";
import { hashToken, newTokenSecret } from "../../workers/auth/tokens";
import { sha256Hex, sha256HexSync, toHex } from "../../workers/lib/crypto";

/** crypto.subtle's digest in hex, spelled independently of `toHex`. */
async function subtleHex(text: string): Promise<string> {
	const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
	return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Inputs around SHA-256's 64-byte blocks and its 55/56-byte padding edge, multi-byte UTF-8, real token secrets. */
function inputs(): string[] {
	const ascii = Array.from({ length: 300 }, (_, length) => "x".repeat(length));
	const varied = Array.from({ length: 200 }, (_, i) =>
		Array.from({ length: (i * 7) % 150 }, (_, j) => String.fromCharCode(32 + ((i * 31 + j * 17) % 95))).join(""),
	);
	const unicode = ["é", "日本語のトークン", "🙂".repeat(20), "a\u0000b", "\uFFFF", `mixed ${"ü".repeat(60)} end`];
	const secrets = Array.from({ length: 100 }, (_, i) => newTokenSecret(i % 2 ? "api" : "session"));
	return ["", ...ascii, ...varied, ...unicode, ...secrets, "z".repeat(100_000)];
}

describe("the token's synchronous SHA-256 (pure JavaScript) against crypto.subtle", () => {
	it("gives crypto.subtle's digest for every input: block edges, multi-byte text, token secrets, a long string", async () => {
		const all = inputs();
		const expected = await Promise.all(all.map(subtleHex));
		expect(all.map(sha256HexSync)).toEqual(expected);
		expect(await Promise.all(all.map(sha256Hex))).toEqual(expected);
	});

	it("hashToken is the prefixed secret's SHA-256, as the tokens table has always stored it", async () => {
		for (const secret of Array.from({ length: 50 }, () => newTokenSecret("session"))) {
			expect(hashToken(secret)).toBe(await subtleHex(`callgate-token:${secret}`));
		}
		// A known vector: the digest of the empty string.
		expect(sha256HexSync("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	});

	it("toHex writes every byte value as two lowercase digits, from a Uint8Array or an ArrayBuffer", () => {
		const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
		const expected = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
		expect(toHex(bytes)).toBe(expected);
		expect(toHex(bytes.buffer)).toBe(expected);
		expect(toHex(bytes.subarray(250))).toBe("fafbfcfdfeff");
		expect(toHex(new Uint8Array())).toBe("");
	});
});
