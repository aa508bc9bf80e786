import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { OpenApiResponseValidator } from "./support/openapi-validator";

const documentValidator = async () => {
	const response = await exports.default.fetch(new Request("http://callgate.test/openapi.json"));
	return new OpenApiResponseValidator(await response.json());
};

const RATE = {
	"X-RateLimit-Limit": "60",
	"X-RateLimit-Remaining": "0",
	"X-RateLimit-Reset": "1767225600",
	"RateLimit-Policy": '"pbx";q=60;w=60',
	RateLimit: '"pbx";r=0;t=3',
};

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => ({
	status,
	headers: new Headers({ "Content-Type": "application/json", ...headers }),
	body: JSON.stringify(body),
});

const extension = {
	id: crypto.randomUUID(),
	extension: "1001",
	name: "x",
	user_id: null,
	caller_id: null,
	enabled: true,
	sip_uri: null,
	forward_to: null,
	version: 1,
	created_at: "2026-01-01T00:00:00.000Z",
	updated_at: "2026-01-01T00:00:00.000Z",
};

const missing = (problems: string[]) => problems.filter((problem) => problem.includes("is required and missing"));

describe("/openapi.json requires the headers the server always sends, and the validator enforces them", () => {
	it("a 429 (rate or connection cap) must carry Retry-After and every rate-limit header", async () => {
		const validator = await documentValidator();
		const refused = { method: "POST", path: "/api/pbx/calls/click-to-call" };
		const bare = missing(validator.check({ ...refused, ...json(429, { message: "Too many requests. Retry after 3 seconds." }) }));
		expect(bare.sort()).toEqual(
			["Retry-After", ...Object.keys(RATE)].map((name) => `header ${name} is required and missing`).sort(),
		);
		const complete = json(429, { message: "Too many concurrent connections." }, { ...RATE, "Retry-After": "1" });
		expect(validator.check({ ...refused, ...complete })).toEqual([]);
	});

	it("every answer of a token-bearing route after admission must carry the rate-limit headers", async () => {
		const validator = await documentValidator();
		const page = { method: "GET", path: "/api/pbx/calls" };
		expect(missing(validator.check({ ...page, ...json(200, { data: [], next_cursor: null }) }))).toHaveLength(5);
		expect(validator.check({ ...page, ...json(200, { data: [], next_cursor: null }, RATE) })).toEqual([]);
		// A 404 for a resource, a 422 and a 412 come after the token was admitted.
		const one = { method: "GET", path: "/api/pbx/extensions/1001" };
		expect(missing(validator.check({ ...one, ...json(404, { message: "Extension not found." }) }))).toHaveLength(5);
		expect(validator.check({ ...one, ...json(404, { message: "Extension not found." }, RATE) })).toEqual([]);
		const put = { method: "PUT", path: "/api/pbx/extensions/1001" };
		expect(missing(validator.check({ ...put, ...json(412, { message: "Resource has changed." }) }))).toHaveLength(5);
	});

	it("a 401 (no admission) and a 500 need no rate-limit headers; a 409 needs no Retry-After", async () => {
		const validator = await documentValidator();
		const page = { method: "GET", path: "/api/pbx/calls" };
		expect(validator.check({ ...page, ...json(401, { message: "Unauthenticated." }) })).toEqual([]);
		expect(validator.check({ ...page, ...json(500, { message: "Internal error" }) })).toEqual([]);
		const create = { method: "POST", path: "/api/pbx/calls/click-to-call" };
		expect(validator.check({ ...create, ...json(409, { message: "Extension 1001 is disabled." }, RATE) })).toEqual([]);
		// A path no operation matches is answered before any token is looked at.
		expect(validator.check({ ...page, path: "/api/nope", ...json(404, { message: "Route not found." }) })).toEqual([]);
	});

	it("a versioned resource's GET, PUT and 304 must carry its ETag; a 201 its ETag and Location", async () => {
		const validator = await documentValidator();
		const path = "/api/pbx/extensions/1001";
		const etagMissing = ["header ETag is required and missing"];
		expect(missing(validator.check({ method: "GET", path, ...json(200, extension, RATE) }))).toEqual(etagMissing);
		expect(missing(validator.check({ method: "PUT", path, ...json(200, extension, RATE) }))).toEqual(etagMissing);
		expect(missing(validator.check({ method: "GET", path, status: 304, headers: new Headers(RATE), body: undefined }))).toEqual(
			etagMissing,
		);
		expect(validator.check({ method: "GET", path, ...json(200, extension, { ...RATE, ETag: '"v1"' }) })).toEqual([]);
		const lead = { method: "POST", path: `/api/telesales/campaigns/${crypto.randomUUID()}/leads` };
		expect(missing(validator.check({ ...lead, ...json(201, {}, RATE) }))).toEqual(
			expect.arrayContaining([...etagMissing, "header Location is required and missing"]),
		);
	});

	it("a login attempt that reached its buckets must carry the rate-limit headers; one refused, Retry-After too", async () => {
		const validator = await documentValidator();
		const login = { method: "POST", path: "/api/auth/login" };
		expect(missing(validator.check({ ...login, ...json(401, { message: "Invalid username or password." }) }))).toHaveLength(5);
		expect(missing(validator.check({ ...login, ...json(429, { message: "Too many requests." }) }))).toHaveLength(6);
		// Refused before the buckets (malformed body): nothing was counted.
		expect(validator.check({ ...login, ...json(400, { message: "Malformed JSON in request body." }) })).toEqual([]);
	});
});
