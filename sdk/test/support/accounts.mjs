// Accounts for the SDK's end-to-end tests, made through the API as an operator would: the
// bootstrap admin logs in once, creates one account per test (each token has its own budgets),
// and the account's owner logs in.
import { Callgate } from "../../dist/index.js";

let adminToken;
let counter = 0;

export async function adminClient(base) {
	adminToken ??= (
		await new Callgate({ baseUrl: base }).post("/api/auth/login", { body: { username: "admin", password: "admin-password" } })
	).token;
	return new Callgate({ baseUrl: base, token: adminToken });
}

/** A new account (Vietnamese numbering) and its owner's token. */
export async function newAccount(base, name, settings = {}) {
	const username = `sdk-${name}-${process.pid}-${++counter}`;
	const password = "sdk-e2e-password";
	const admin = await adminClient(base);
	const account = await admin.post("/api/admin/accounts", {
		body: { name: `SDK e2e ${name}`, username, password, default_region: "VN", ...settings },
	});
	const { token } = await new Callgate({ baseUrl: base }).post("/api/auth/login", { body: { username, password } });
	return { id: account.id, username, password, token };
}

/** Another token of the same account, with budgets of its own (for checks that must not spend the test's). */
export async function secondToken(base, token) {
	return (await new Callgate({ baseUrl: base, token }).post("/api/auth/tokens", { body: { name: "checks" } })).token;
}
