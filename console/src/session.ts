import { get, request } from "./api";
import { currentToken, storeToken } from "./auth";
import type { Me } from "./types";

/** Exchanges a username and password for a session token, and keeps it for this tab. */
export async function signIn(username: string, password: string): Promise<void> {
	const { body } = await request<{ token: string }>("POST", "/api/auth/login", {
		body: { username, password },
		anonymous: true,
	});
	storeToken(body.token);
}

/** Uses a token the operator pasted (an API token, say): checked by asking who it is. */
export async function signInWithToken(token: string): Promise<Me> {
	storeToken(token.trim());
	try {
		return await whoAmI();
	} catch (error) {
		storeToken(null);
		throw error;
	}
}

export const whoAmI = async () => (await get<Me>("/api/auth/me")).body;

/**
 * Forgets the token first, so every page and the stream stop using it, then revokes it if it
 * is a session's; a pasted API token is only forgotten by this tab.
 */
export async function signOut(me: Me | undefined): Promise<void> {
	const token = currentToken();
	storeToken(null);
	if (token && me?.token.kind === "session") await request("POST", "/api/auth/logout", { token, anonymous: false });
}
