import type { AdmitResult, Authenticated, RateVerdict } from "../../durable-objects/token-guard";
import type { Principal } from "../auth/principal";
import { bearerToken, hashToken } from "../auth/tokens";
import { ApiError, unauthorized } from "../http/errors";
import { BoundedMap } from "../lib/bounded-map";
import { limitFor, RATE_LIMIT_WINDOW_MS, type RateLimitGroup, type RateLimitOverrides } from "./rate-limit-groups";
import { rateLimitHeaders } from "./rate-limit-headers";
import { RELEASE_WAIT_MS, ReleaseQueue } from "./release-queue";

/** How long a slot stays taken if the request holding it dies without releasing it. */
export const LEASE_MS = 120_000;

/** A running request renews its lease this often: two renewals may fail before it lapses. */
export const RENEW_EVERY_MS = LEASE_MS / 3;

/** Read by each `holdSlot`; replaced in tests, whose timers cannot reach a request's stubs. */
export const slotRenewal = { everyMs: RENEW_EVERY_MS };

export interface Admission {
	leaseId: string;
	headers: Record<string, string>;
	/** Frees the slot now: one round trip of its own (an event stream's end). */
	release: () => Promise<void>;
	/**
	 * Frees the slot with the token's next admit from this isolate, or by itself after
	 * RELEASE_WAIT_MS: an answered request's release costs no round trip of its own while its
	 * token is busy. For `waitUntil`; never rejects (a lost release lapses with its lease).
	 */
	releaseWithNextAdmit: () => Promise<void>;
	renew: () => Promise<boolean>;
}

/** This isolate's answered requests whose leases wait to ride on their token's next admit. */
export const unreleasedLeases = new ReleaseQueue();

/** Read by each `releaseWithNextAdmit`; replaced in tests, to hold releases for the next admit. */
export const leaseRelease = { waitMs: RELEASE_WAIT_MS };

/**
 * The last principal each token's guard sent this isolate, with its tag. An admit names the
 * tag it holds and the guard sends the principal again only when its own copy is another load
 * (a minute passed, or a `forget`): the guard authenticates every request itself either way,
 * so this only spares carrying the same principal back on each answer.
 */
const principals = new BoundedMap<string, { tag: string; principal: Principal }>(1_000);

/** The principal an admit's answer stands for: the one it carried, or the one the caller named by its tag. */
function principalOf(
	tokenHash: string,
	known: { tag: string; principal: Principal } | undefined,
	answer: Authenticated,
): Principal {
	if (answer.principal) {
		if (answer.principalTag !== undefined) principals.set(tokenHash, { tag: answer.principalTag, principal: answer.principal });
		return answer.principal;
	}
	if (known && answer.principalTag === known.tag) return known.principal;
	throw new Error("the guard's answer carried no principal, and named none this request held");
}

export const tokenGuard = (env: Env, tokenHash: string) => env.TOKEN_GUARD.get(env.TOKEN_GUARD.idFromName(`token:${tokenHash}`));

type Guard = ReturnType<typeof tokenGuard>;

/**
 * Authenticates the bearer token and admits the request in one Durable Object round trip:
 * releases of the token's answered requests, then token, connection cap, sliding window.
 */
export async function admit(
	request: Request,
	env: Env,
	ctx: ExecutionContext,
	group: RateLimitGroup,
): Promise<{ principal: Principal; admission: Admission }> {
	const secret = bearerToken(request);
	if (!secret) throw unauthorized();
	// Hashed on each request: a memo would keep the secret itself as its key, in memory that
	// outlives the request (past a logout), where tokens are to be kept only as hashes.
	const tokenHash = hashToken(secret);
	const guard = tokenGuard(env, tokenHash);
	const releases = unreleasedLeases.take(tokenHash);
	// Held for this request: a concurrent one may replace the cache's entry before this answer comes.
	const known = principals.get(tokenHash);
	let result: AdmitResult;
	try {
		result = await guard.admit({
			tokenHash,
			group,
			windowMs: RATE_LIMIT_WINDOW_MS,
			leaseMs: LEASE_MS,
			releases,
			principalTag: known?.tag,
		});
	} catch (error) {
		// It may not have run: the releases it carried go again on their own (a second drop is harmless).
		if (releases.length > 0) ctx.waitUntil(releaseQuietly(guard, tokenHash, releases));
		throw error;
	}
	if (!result.admitted && result.reason === "unauthenticated") throw unauthorized();
	const principal = principalOf(tokenHash, known, result);
	const headers = rateLimitHeaders(result.rate, principal.maxConnections);
	if (!result.admitted) {
		if (result.reason === "connections") {
			throw new ApiError(429, "Too many concurrent connections.", undefined, { ...headers, "Retry-After": "1" });
		}
		throw tooManyRequests(result.rate, headers);
	}
	const { leaseId } = result;
	return {
		principal,
		admission: {
			leaseId,
			headers,
			release: () => guard.release([leaseId]),
			releaseWithNextAdmit: () => releaseWithNextAdmit(guard, tokenHash, leaseId),
			renew: () => guard.renew(leaseId, LEASE_MS, tokenHash),
		},
	};
}

async function releaseWithNextAdmit(guard: Guard, tokenHash: string, leaseId: string): Promise<void> {
	unreleasedLeases.add(tokenHash, leaseId);
	await new Promise((resolve) => setTimeout(resolve, leaseRelease.waitMs));
	// Taken by an admit meanwhile (delivered, or handed back to be sent again if that admit failed).
	if (!unreleasedLeases.has(tokenHash, leaseId)) return;
	await releaseQuietly(guard, tokenHash, unreleasedLeases.take(tokenHash));
}

/**
 * A release that fails waits again for the token's next admit; if none comes, each lease
 * lapses on its own, so a lost release only delays its slot by up to LEASE_MS.
 */
async function releaseQuietly(guard: Guard, tokenHash: string, leaseIds: string[]): Promise<void> {
	try {
		await guard.release(leaseIds);
	} catch (error) {
		for (const leaseId of leaseIds) unreleasedLeases.add(tokenHash, leaseId);
		console.warn("connection slot release failed", error instanceof Error ? error.message : String(error));
	}
}

/**
 * Renews the admission's lease every `everyMs` until the returned function is called,
 * so a request that outlives a lease (a slow upload, a long handler) keeps its slot and the
 * cap stays exact. A failed or refused renewal is only logged: the next may succeed, and at
 * worst the lease lapses as it would have without renewing.
 */
export function holdSlot(admission: Pick<Admission, "renew">, everyMs = slotRenewal.everyMs): () => void {
	const timer = setInterval(() => {
		admission.renew().then(
			(held) => {
				if (!held) console.warn("connection slot lapsed while its request was running");
			},
			(error: unknown) => console.warn("connection slot renewal failed", error instanceof Error ? error.message : String(error)),
		);
	}, everyMs);
	return () => clearInterval(timer);
}

/**
 * Per-minute login limits beyond the spec's 5 per IP and username: across usernames from one
 * IP (spraying passwords over accounts) and across IPs for one username (spraying from many
 * addresses). A NAT-ed office shares an IP, so those two count failed attempts only: a
 * successful login gives its unit back.
 */
export const LOGIN_LIMITS = { perIp: 20, perUsername: 10 } as const;

export interface LoginBucket {
	/** The TokenGuard object's name. */
	name: string;
	group: string;
	limit: number;
	/** Whether a successful login gives its unit back. */
	failuresOnly: boolean;
}

/**
 * The buckets a login attempt must fit in. IPv6 clients are keyed by their /64, which one
 * subscriber usually holds whole: per address, they would have billions of IP buckets. The
 * pair bucket too: it is the only one successes do not refund, so keyed per address it
 * would let one /64 log in without limit by rotating addresses.
 */
export function loginBuckets(ip: string, username: string, overrides: RateLimitOverrides = {}): LoginBucket[] {
	const user = username.toLowerCase();
	const client = clientNetwork(ip);
	return [
		{ name: `login:${client}:${user}`, group: "auth-login", limit: limitFor("auth-login", overrides), failuresOnly: false },
		{ name: `login-ip:${client}`, group: "auth-login-ip", limit: LOGIN_LIMITS.perIp, failuresOnly: true },
		{ name: `login-user:${user}`, group: "auth-login-user", limit: LOGIN_LIMITS.perUsername, failuresOnly: true },
	];
}

/** An IPv4 address as is; an IPv6 address as its /64 prefix (`2001:db8:0:1::/64`). */
export function clientNetwork(ip: string): string {
	// IPv4, IPv4-mapped IPv6 and anything unparseable ("unknown") are keyed as they are.
	if (!ip.includes(":") || ip.includes(".")) return ip;
	const [head = "", tail] = ip.toLowerCase().split("::");
	const left = head ? head.split(":") : [];
	const right = tail === undefined || tail === "" ? [] : tail.split(":");
	const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
	return `${groups
		.slice(0, 4)
		.map((group) => group.replace(/^0+(?=.)/, ""))
		.join(":")}::/64`;
}

export const loginGuard = (env: Env, bucket: LoginBucket) => env.TOKEN_GUARD.get(env.TOKEN_GUARD.idFromName(bucket.name));

export interface LoginAttempt {
	headers: Record<string, string>;
	/** The credentials were right: give back the units of the failures-only buckets. */
	succeeded: () => Promise<void>;
}

/**
 * Login attempts have no token yet: each must fit in every bucket of `loginBuckets`, and is
 * refused (429, before any password hashing) if one is full. A refused attempt consumes no
 * budget: the buckets that had counted it give their unit back. The headers describe the
 * bucket closest to refusing.
 */
export async function admitLoginAttempt(
	env: Env,
	ip: string,
	username: string,
	overrides: RateLimitOverrides = {},
): Promise<LoginAttempt> {
	const buckets = loginBuckets(ip, username, overrides);
	const results = await Promise.all(
		buckets.map(async (bucket) => {
			const guard = loginGuard(env, bucket);
			const result = await guard.hit({ group: bucket.group, limit: bucket.limit, windowMs: RATE_LIMIT_WINDOW_MS });
			const refund = async () => {
				if (result.hitId === undefined) return;
				try {
					await guard.refund(result.hitId);
				} catch (error) {
					// The unit comes back when the hit ages out anyway.
					console.warn("login bucket refund failed", error instanceof Error ? error.message : String(error));
				}
			};
			return { bucket, result, refund };
		}),
	);
	const refused = results.filter(({ result }) => !result.admitted);
	if (refused.length > 0) {
		await Promise.all(results.map(({ refund }) => refund()));
		const longest = refused.reduce((a, b) =>
			(b.result.rate.retryAfterSeconds ?? 1) > (a.result.rate.retryAfterSeconds ?? 1) ? b : a,
		);
		throw tooManyRequests(longest.result.rate, rateLimitHeaders(longest.result.rate));
	}
	const closest = results.reduce((a, b) => (b.result.rate.state.remaining < a.result.rate.state.remaining ? b : a));
	return {
		headers: rateLimitHeaders(closest.result.rate),
		succeeded: async () => {
			await Promise.all(results.filter(({ bucket }) => bucket.failuresOnly).map(({ refund }) => refund()));
		},
	};
}

/** Makes the token's guard reload its principal on next use (revocation, account changes). */
export async function forgetTokens(env: Env, tokenHashes: readonly string[]): Promise<void> {
	await Promise.all(tokenHashes.map((hash) => tokenGuard(env, hash).forget()));
}

function tooManyRequests(rate: RateVerdict, headers: Record<string, string>): ApiError {
	const seconds = rate.retryAfterSeconds ?? 1;
	return new ApiError(429, `Too many requests. Retry after ${seconds} seconds.`, undefined, {
		...headers,
		"X-RateLimit-Remaining": "0",
		"Retry-After": String(seconds),
	});
}
