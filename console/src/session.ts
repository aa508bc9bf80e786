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

/**
 * The platform admin continues as a customer account's owner: the owner signs in first (if that
 * fails, the admin is still signed in), then the admin's session, which this tab no longer holds
 * and so could never sign out, is revoked at once (in the background). A pasted API token is only forgotten, as at
 * sign-out. Revocation failing is not the switch failing: a session expires on its own.
 */
export async function switchToOwner(username: string, password: string, admin: Me): Promise<void> {
	const adminToken = currentToken();
	await signIn(username, password);
	if (!adminToken || admin.token.kind !== "session") return;
	// Not awaited: the owner's pages need not wait for it.
	request("POST", "/api/auth/logout", { token: adminToken }).catch(() =>
		console.warn("The admin's session could not be revoked now; it expires on its own."),
	);
}
