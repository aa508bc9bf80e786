import { nowIso } from "../lib/time";
import { hashPassword, iterationsFrom } from "./passwords";

const LOCAL_DEFAULT_PASSWORD = "admin-password";

/**
 * The platform admin exists from the first start. It is created lazily, on the first login
 * attempt with its username, so that no start-up work runs on every isolate.
 */
export async function ensureBootstrapAdmin(env: Env, username: string): Promise<void> {
	const adminName = env.BOOTSTRAP_ADMIN_USERNAME || "admin";
	if (username.toLowerCase() !== adminName.toLowerCase()) return;
	const password = env.BOOTSTRAP_ADMIN_PASSWORD;
	if (!password || (env.ENVIRONMENT === "production" && password === LOCAL_DEFAULT_PASSWORD)) {
		console.warn("bootstrap admin not created: set the BOOTSTRAP_ADMIN_PASSWORD secret");
		return;
	}
	const exists = await env.DB.prepare("SELECT 1 FROM users WHERE username = ? COLLATE NOCASE").bind(adminName).first();
	if (exists) return;
	const now = nowIso();
	const accountId = crypto.randomUUID();
	const passwordHash = await hashPassword(password, iterationsFrom(env));
	try {
		await env.DB.batch([
			env.DB.prepare(
				"INSERT INTO accounts (id, name, default_region, is_platform, created_at, updated_at) VALUES (?, 'callgate platform', 'US', 1, ?, ?)",
			).bind(accountId, now, now),
			env.DB.prepare(
				"INSERT INTO users (id, account_id, username, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, 'platform_admin', ?, ?)",
			).bind(crypto.randomUUID(), accountId, adminName, passwordHash, now, now),
		]);
	} catch (error) {
		// A concurrent first login created it: the unique username index rolled this batch back.
		if (!String(error).includes("UNIQUE")) throw error;
	}
}
