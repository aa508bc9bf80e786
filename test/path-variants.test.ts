import { beforeAll, describe, expect, it } from "vitest";
import { RATE_LIMIT_GROUPS, RATE_LIMIT_WINDOW_MS, type RateLimitGroup } from "../workers/guard/rate-limit-groups";
import { routes } from "../workers/routes";
import type { Route } from "../workers/routing/route";
import { burst, call, callJson, newAccount, type TestAccount, unique } from "./helpers";

/** One segment of a filled-in route path; only static segments are respelled. */
interface Segment {
	text: string;
	static: boolean;
}

interface Variant {
	name: string;
	/** Whether the router must send this spelling to the route (canonicalPath's policy). */
	routed: boolean;
	/** The respelled path, or undefined when the variant does not apply to this path. */
	spell: (segments: Segment[]) => string | undefined;
}

const join = (segments: Segment[]) => `/${segments.map((s) => s.text).join("/")}`;
const mapStatic = (segments: Segment[], fn: (text: string, index: number) => string) =>
	segments.map((s, i) => (s.static ? { ...s, text: fn(s.text, i) } : s));
const lastStatic = (segments: Segment[]) => segments.findLastIndex((s) => s.static);
const encodeChar = (char: string) => `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`;
/** A separator after the first segment (`/api|/pbx`, `/health|`), respelled. */
const atFirstSeparator = (segments: Segment[], separator: string) =>
	`/${segments[0]?.text}${separator}${segments
		.slice(1)
		.map((s) => s.text)
		.join("/")}`;

const VARIANTS: Variant[] = [
	{ name: "as declared", routed: true, spell: join },
	{ name: "trailing slash", routed: true, spell: (s) => `${join(s)}/` },
	{ name: "dot segment /./", routed: true, spell: (s) => atFirstSeparator(s, "/./") },
	{ name: "dot-dot segment /x/../", routed: true, spell: (s) => atFirstSeparator(s, "/x/../") },
	{ name: "encoded dot segment /%2e/", routed: true, spell: (s) => atFirstSeparator(s, "/%2e/") },
	{
		name: "%2D for -",
		routed: true,
		spell: (s) =>
			s.some((x) => x.static && x.text.includes("-")) ? join(mapStatic(s, (t) => t.replaceAll("-", "%2D"))) : undefined,
	},
	{
		name: "%2d for - plus trailing slash",
		routed: true,
		spell: (s) =>
			s.some((x) => x.static && x.text.includes("-")) ? `${join(mapStatic(s, (t) => t.replaceAll("-", "%2d")))}/` : undefined,
	},
	{
		name: "last static segment's first letter percent-encoded",
		routed: true,
		spell: (s) => join(mapStatic(s, (t, i) => (i === lastStatic(s) ? encodeChar(t[0] ?? "") + t.slice(1) : t))),
	},
	{ name: "upper case", routed: false, spell: (s) => join(s).toUpperCase() },
	{
		name: "first segment capitalised",
		routed: false,
		spell: (s) => join(mapStatic(s, (t, i) => (i === 0 ? (t[0] ?? "").toUpperCase() + t.slice(1) : t))),
	},
	{ name: "double slash", routed: false, spell: (s) => atFirstSeparator(s, "//") },
	{ name: "doubled trailing slash", routed: false, spell: (s) => `${join(s)}//` },
	{ name: "encoded slash %2F", routed: false, spell: (s) => atFirstSeparator(s, "%2F") },
];

/** The route's pattern with plausible values: UUIDs for ids, a real-looking extension number. */
function fill(route: Route): Segment[] {
	return route.path
		.slice(1)
		.split("/")
		.map((part) =>
			part.startsWith(":")
				? { text: part === ":extension" ? "1001" : crypto.randomUUID(), static: false }
				: { text: part, static: true },
		);
}

const LOGIN = "/api/auth/login";
const LOGOUT = "/api/auth/logout";

interface Observed {
	variant: string;
	path: string;
	routed: boolean;
	limit: string | null;
	policy: string | null;
}

const windowSeconds = RATE_LIMIT_WINDOW_MS / 1000;
const policyOf = (group: RateLimitGroup) => `"${group}";q=${RATE_LIMIT_GROUPS[group]};w=${windowSeconds}`;

describe("every route, every spelling of its path: routed in its own group, or not routed at all", () => {
	let account: TestAccount;
	/** Logout revokes the token it carries, so each of its requests brings its own. */
	let spareTokens: () => Promise<string>;
	const loginIp = unique("203.0.113.");
	const loginUser = unique("nobody");

	beforeAll(async () => {
		account = await newAccount();
		const minter = await newAccount();
		spareTokens = async () => {
			const minted = await callJson<{ token: string }>("/api/auth/tokens", { token: minter.token, body: { name: unique("t") } });
			if (minted.status !== 201) throw new Error(`token: ${minted.status}`);
			return minted.body.token;
		};
	});

	async function send(route: Route, path: string): Promise<Response> {
		if (route.path === LOGIN) {
			return call(path, {
				body: { username: loginUser, password: "wrong password!" },
				headers: { "CF-Connecting-IP": loginIp },
			});
		}
		if (route.access === "public") return call(path, { method: route.method });
		const token =
			route.access === "platform-admin" ? account.adminToken : route.path === LOGOUT ? await spareTokens() : account.token;
		// No body: validation refuses it after the guard has counted it, so nothing is created.
		return call(path, { method: route.method, token });
	}

	/** What each route's routed spellings must show: its own group's policy, or none for public routes. */
	function expected(route: Route): Pick<Observed, "limit" | "policy"> {
		if (route.path === LOGIN) return { limit: String(RATE_LIMIT_GROUPS["auth-login"]), policy: policyOf("auth-login") };
		if (route.access === "public") return { limit: null, policy: null };
		return { limit: String(RATE_LIMIT_GROUPS[route.group]), policy: policyOf(route.group) };
	}

	let cases = 0;

	it.each(routes.map((r) => [`${r.method} ${r.path}`, r] as const))("%s", async (_, route) => {
		const segments = fill(route);
		const spellings = VARIANTS.flatMap((variant) => {
			const path = variant.spell(segments);
			return path === undefined ? [] : [{ variant, path }];
		});
		const observed = await Promise.all(
			spellings.map(async ({ variant, path }): Promise<Observed> => {
				const response = await send(route, path);
				// An event stream never ends on its own: hang up, which frees its slot.
				const streaming = response.headers.get("Content-Type")?.startsWith("text/event-stream");
				if (streaming) await response.body?.cancel();
				const text = streaming ? "" : await response.text();
				const notRouted = response.status === 404 && text.includes("Route not found.");
				// The connection item follows the group's: compare only the group's own policy.
				const policy = response.headers.get("RateLimit-Policy")?.split(", ")[0] ?? null;
				return { variant: variant.name, path, routed: !notRouted, limit: response.headers.get("X-RateLimit-Limit"), policy };
			}),
		);
		cases += observed.length;
		const own = expected(route);
		expect(observed).toEqual(
			spellings.map(({ variant, path }) =>
				variant.routed
					? { variant: variant.name, path, routed: true, ...own }
					: { variant: variant.name, path, routed: false, limit: null, policy: null },
			),
		);
	});

	it("walked every route with at least its eleven always-applicable spellings", () => {
		expect(cases).toBeGreaterThanOrEqual(routes.length * 11);
	});
});

describe("a respelled path shares its route's bucket", () => {
	it("12 click-to-calls alternating with and without a trailing slash: 10 admitted, 2 refused, pbx untouched", async () => {
		const account = await newAccount({ default_region: "VN" });
		const extension = await callJson("/api/pbx/extensions", {
			token: account.token,
			body: { extension: "1001", name: "Front desk" },
		});
		expect(extension.status).toBe(201);
		const responses = await burst(12, (i) =>
			call(i % 2 === 0 ? "/api/pbx/calls/click-to-call" : "/api/pbx/calls/click-to-call/", {
				token: account.token,
				body: { from_extension: "1001", to_phone: `098765432${i % 10}` },
			}),
		);
		const statuses = responses.map((r) => r.status);
		expect(statuses.filter((s) => s === 201)).toHaveLength(10);
		expect(statuses.filter((s) => s === 429)).toHaveLength(2);
		expect(new Set(responses.map((r) => r.headers.get("X-RateLimit-Limit")))).toEqual(new Set(["10"]));
		// The pbx group spent only the extension's creation.
		const users = await call("/api/pbx/users", { token: account.token });
		expect(users.headers.get("X-RateLimit-Remaining")).toBe(String(RATE_LIMIT_GROUPS.pbx - 2));
	});

	it("login attempts under three spellings of /api/auth/login share one limiter", async () => {
		const account = await newAccount();
		const spellings = ["/api/auth/login", "/api/auth/login/", "/api/auth/log%69n"];
		const responses: Response[] = [];
		for (let i = 0; i < 7; i++) {
			responses.push(
				await call(spellings[i % spellings.length] ?? LOGIN, {
					body: { username: account.username, password: "wrong password!" },
					headers: { "CF-Connecting-IP": "198.51.100.77" },
				}),
			);
		}
		expect(responses.map((r) => r.status)).toEqual([401, 401, 401, 401, 401, 429, 429]);
		expect(responses.every((r) => r.headers.get("X-RateLimit-Limit") === "5")).toBe(true);
	});
});
