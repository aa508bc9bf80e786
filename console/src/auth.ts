/**
 * The bearer token, kept in sessionStorage: it lives as long as the tab, is never put in a
 * URL, and is forgotten when the tab closes. Listeners hear sign-in and sign-out.
 */
const KEY = "callgate.console.token";
const listeners = new Set<() => void>();

export function currentToken(): string | null {
	try {
		return sessionStorage.getItem(KEY);
	} catch {
		return null;
	}
}

export function storeToken(token: string | null): void {
	if (token) sessionStorage.setItem(KEY, token);
	else sessionStorage.removeItem(KEY);
	for (const listener of listeners) listener();
}

export function onTokenChange(listener: () => void): () => void {
	listeners.add(listener);
	return () => listeners.delete(listener);
}
