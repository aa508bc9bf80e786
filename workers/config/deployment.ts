/**
 * What a deployment must be given before it may serve: the providers it names exist, and each
 * has its credentials and its public address. Checked on every entry point (a Worker has no
 * start-up hook, and the check is a few string tests), so a deploy with a missing secret
 * refuses to serve with a message that names it, rather than dialling or signing with an empty key.
 */

const DIALER_PROVIDERS = ["simulated", "http", "twilio", "telnyx"] as const;
const SMS_PROVIDERS = ["simulated", "twilio", "telnyx"] as const;

type Setting = keyof Env & string;

/** The settings each provider needs, and whether each is a secret (for the message's `wrangler` hint). */
const NEEDS: Record<string, readonly Setting[]> = {
	http: ["DIALER_URL", "DIALER_SECRET"],
	twilio: ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE", "PUBLIC_BASE_URL"],
	telnyx: ["TELNYX_API_KEY", "TELNYX_CONNECTION_ID", "TELNYX_PUBLIC_KEY", "TELNYX_API_BASE", "PUBLIC_BASE_URL"],
};
const SECRETS = new Set<Setting>(["DIALER_SECRET", "TWILIO_AUTH_TOKEN", "TELNYX_API_KEY", "SMS_SECRET", "WEBHOOK_SECRET_KEY"]);

const value = (env: Env, name: Setting): string => {
	const raw: unknown = env[name];
	return typeof raw === "string" ? raw.trim() : "";
};

function missing(env: Env, name: Setting, because: string): string | null {
	if (value(env, name)) return null;
	const how = SECRETS.has(name) ? `wrangler secret put ${name}` : `set ${name} in wrangler.toml [vars] or with --var`;
	return `${name} is not set (${because}): ${how}.`;
}

function urlProblem(env: Env, name: Setting, production: boolean): string | null {
	const raw = value(env, name);
	if (!raw) return null;
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		return `${name} is not an absolute URL.`;
	}
	if (production && url.protocol !== "https:") return `${name} must be an https URL in production.`;
	return null;
}

/** Each problem as a sentence naming the setting; empty when the deployment may serve. */
export function deploymentProblems(env: Env): string[] {
	const problems: (string | null)[] = [];
	const production = env.ENVIRONMENT === "production";
	const dialer = value(env, "DIALER_PROVIDER") || "simulated";
	const sms = value(env, "SMS_PROVIDER") || "simulated";
	if (!(DIALER_PROVIDERS as readonly string[]).includes(dialer)) {
		problems.push(`DIALER_PROVIDER "${dialer}" is not one of ${DIALER_PROVIDERS.join(", ")}.`);
	}
	if (!(SMS_PROVIDERS as readonly string[]).includes(sms)) {
		problems.push(`SMS_PROVIDER "${sms}" is not one of ${SMS_PROVIDERS.join(", ")}.`);
	}
	const needed = new Map<Setting, string>();
	for (const [role, provider] of [
		["DIALER_PROVIDER", dialer],
		["SMS_PROVIDER", sms],
	] as const) {
		for (const name of NEEDS[provider] ?? []) if (!needed.has(name)) needed.set(name, `${role}=${provider}`);
	}
	needed.set("WEBHOOK_SECRET_KEY", "webhook signing secrets are encrypted with it");
	for (const [name, because] of needed) problems.push(missing(env, name, because));
	for (const name of ["PUBLIC_BASE_URL", "TWILIO_API_BASE", "TELNYX_API_BASE", "DIALER_URL"] as const) {
		if (needed.has(name)) problems.push(urlProblem(env, name, production));
	}
	if (
		needed.has("TELNYX_PUBLIC_KEY") &&
		value(env, "TELNYX_PUBLIC_KEY") &&
		!isEd25519PublicKey(value(env, "TELNYX_PUBLIC_KEY"))
	) {
		problems.push("TELNYX_PUBLIC_KEY is not a base64 Ed25519 public key (32 bytes), as the Telnyx portal shows it.");
	}
	return problems.filter((problem): problem is string => problem !== null);
}

function isEd25519PublicKey(base64: string): boolean {
	try {
		return atob(base64).length === 32;
	} catch {
		return false;
	}
}

/** The one answer of a deployment that may not serve: 503 naming what to set; nothing else runs. */
export function misconfiguredResponse(problems: readonly string[]): Response {
	return Response.json(
		{ message: `callgate is not configured to serve: ${problems.join(" ")}` },
		{ status: 503, headers: { "Retry-After": "60" } },
	);
}
