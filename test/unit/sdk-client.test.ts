import { describe, expect, expectTypeOf, it } from "vitest";
import { Callgate, type RetryInfo } from "../../sdk/src/client";
import { NetworkError, ValidationError } from "../../sdk/src/errors";
import type { RequestOptions, ResponseData, Schemas } from "../../sdk/src/types";

type Step = Response | Error;

/** A fetch that answers from a script, recording each request; only the client's logic is under test here. */
function scripted(steps: Step[]) {
	const requests: Request[] = [];
	const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
		requests.push(new Request(input, init));
		const step = steps.shift();
		if (!step) throw new Error("script exhausted");
		if (step instanceof Error) throw step;
		return step;
	};
	return { fetch: fetch as typeof globalThis.fetch, requests };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
	new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

const client = (fetch: typeof globalThis.fetch, retries: RetryInfo[] = []) =>
	new Callgate({
		baseUrl: "http://callgate.test",
		token: "t0k",
		fetch,
		backoff: { baseMs: 1, capMs: 5, jitterMs: 0 },
		onRetry: (retry) => retries.push(retry),
	});

const call = { id: "c1" };

describe("Callgate (client logic, scripted answers)", () => {
	it("a keyed create keeps one Idempotency-Key across a lost answer, a 5xx and a 409 in flight", async () => {
		const { fetch, requests } = scripted([
			new TypeError("socket hang up"),
			json(503, { message: "down" }),
			json(409, { message: "in flight" }, { "Retry-After": "0" }),
			json(201, call, { "Idempotent-Replayed": "true" }),
		]);
		const retries: RetryInfo[] = [];
		const answer = await client(fetch, retries).request("post", "/api/pbx/calls/click-to-call", {
			body: { from_extension: "1001", to_phone: "0987654321" },
		});
		expect(answer).toMatchObject({ status: 201, data: call, replayed: true, attempts: 4 });
		const keys = requests.map((request) => request.headers.get("Idempotency-Key"));
		expect(new Set(keys).size).toBe(1);
		expect(keys[0]).toBe(answer.idempotencyKey);
		expect(retries.map((retry) => retry.reason)).toEqual(["network-error", "server-error", "in-flight"]);
		expect(requests.every((request) => request.headers.get("Authorization") === "Bearer t0k")).toBe(true);
	});

	it("a caller's key is used as given; a key on a route that ignores keys is refused before sending", async () => {
		const { fetch, requests } = scripted([json(201, call)]);
		const key = "a1b2c3d4-e5f6-4890-abcd-ef1234567890";
		await client(fetch).post("/api/pbx/calls/click-to-call", {
			body: { from_extension: "1001", to_phone: "1" },
			idempotencyKey: key,
		});
		expect(requests[0]?.headers.get("Idempotency-Key")).toBe(key);
		await expect(
			client(fetch).post("/api/pbx/extensions", { body: { extension: "1001", name: "x" }, idempotencyKey: key }),
		).rejects.toThrow(/takes no Idempotency-Key/);
		await expect(
			client(fetch).post("/api/pbx/calls/click-to-call", {
				body: { from_extension: "1001", to_phone: "1" },
				idempotencyKey: "k",
			}),
		).rejects.toThrow(/UUID v4/);
	});

	it("never repeats a write without a key after a lost answer or a 5xx: it may have been applied", async () => {
		const lost = scripted([new TypeError("socket hang up")]);
		const error = await client(lost.fetch)
			.post("/api/pbx/extensions", { body: { extension: "1001", name: "x" } })
			.catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(NetworkError);
		expect((error as NetworkError).mayHaveApplied).toBe(true);
		expect(lost.requests).toHaveLength(1);
		const failed = scripted([json(500, { message: "Internal error" })]);
		await expect(
			client(failed.fetch).post("/api/pbx/extensions", { body: { extension: "1001", name: "x" } }),
		).rejects.toMatchObject({
			status: 500,
			name: "ServerError",
		});
		expect(failed.requests).toHaveLength(1);
	});

	it("4xx answers are typed errors with the status, message and field errors", async () => {
		const { fetch } = scripted([json(422, { message: "The given data was invalid.", errors: { to_phone: ["Invalid phone."] } })]);
		const error = await client(fetch)
			.post("/api/pbx/calls/click-to-call", { body: { from_extension: "1001", to_phone: "x" } })
			.catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(ValidationError);
		expect(error).toMatchObject({
			status: 422,
			message: "The given data was invalid.",
			errors: { to_phone: ["Invalid phone."] },
		});
	});

	it("gives up after maxAttempts (5) and surfaces the last answer", async () => {
		const { fetch, requests } = scripted(Array.from({ length: 6 }, () => json(503, { message: "down" })));
		await expect(client(fetch).get("/api/pbx/calls")).rejects.toMatchObject({ status: 503 });
		expect(requests).toHaveLength(5);
	});

	it("types come from /openapi.json: paths, parameters, bodies and answers", () => {
		expectTypeOf<ResponseData<"/api/pbx/users", "get">>().toEqualTypeOf<{ data: Schemas["User"][] }>();
		expectTypeOf<ResponseData<"/api/pbx/calls/click-to-call", "post">>().toEqualTypeOf<Schemas["Call"]>();
		expectTypeOf<RequestOptions<"/api/pbx/extensions/{extension}", "put">["path"]>().toEqualTypeOf<{ extension: string }>();
		expectTypeOf<RequestOptions<"/api/pbx/calls/click-to-call", "post">["body"]>().toEqualTypeOf<Schemas["ClickToCallBody"]>();
		// @ts-expect-error: a path the API does not have
		expectTypeOf<ResponseData<"/api/pbx/nothing", "get">>();
		// @ts-expect-error: click-to-call has no GET
		expectTypeOf<ResponseData<"/api/pbx/calls/click-to-call", "get">>();
	});
});
