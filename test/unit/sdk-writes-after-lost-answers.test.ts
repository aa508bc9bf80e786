import { describe, expect, it } from "vitest";
import { Callgate, holdsWrite } from "../../sdk/src/client";
import { NetworkError, NotFoundError, OutcomeUnknownError, ValidationError } from "../../sdk/src/errors";

// A write whose answer is lost (or that met a 5xx) may have been applied: what the client does
// after it must never apply it twice, nor report its own success as a failure. The fetches
// model the server's documented behaviour; only the SDK's logic is under test.

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
	new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

const fast = { baseMs: 1, capMs: 2, jitterMs: 0 };
const lost = () => new TypeError("socket hang up");

/** An extension as the server keeps it: PUT with If-Match applies only over the current version (else 412). */
function extensionServer(options: { loseFirstAnswer: boolean; otherWriterAfterFirst?: string }) {
	const server = { version: 1, name: "Alice", puts: 0 };
	const etag = () => `"v${server.version}"`;
	const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
		const request = new Request(input, init);
		if (request.method === "GET") return json(200, { extension: "1001", name: server.name }, { ETag: etag() });
		if (request.headers.get("If-Match") !== etag()) return json(412, { message: "Resource has changed, please GET again." });
		server.puts++;
		server.name = ((await request.json()) as { name: string }).name;
		server.version++;
		if (server.puts === 1 && options.otherWriterAfterFirst !== undefined) {
			server.name = options.otherWriterAfterFirst;
			server.version++;
		}
		if (server.puts === 1 && options.loseFirstAnswer) throw lost();
		return json(200, { extension: "1001", name: server.name }, { ETag: etag() });
	}) as typeof globalThis.fetch;
	return { server, fetch };
}

describe("update() after a lost answer", () => {
	it("a PUT applied whose answer is lost, repeated into 412: the change is in, so it is not applied again", async () => {
		const { server, fetch } = extensionServer({ loseFirstAnswer: true });
		const client = new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch, backoff: fast });
		const changes: string[] = [];
		const written = await client.update("put", "/api/pbx/extensions/{extension}", {
			path: { extension: "1001" },
			change: (current) => {
				changes.push(current.name);
				return { name: `${current.name} (VIP)` };
			},
		});
		expect(server.name).toBe("Alice (VIP)");
		expect(changes).toEqual(["Alice"]);
		expect(written).toMatchObject({ name: "Alice (VIP)" });
	});

	it("when someone else wrote too, the outcome is unknown: OutcomeUnknownError with what is there, nothing re-applied", async () => {
		const { server, fetch } = extensionServer({ loseFirstAnswer: true, otherWriterAfterFirst: "Alicia" });
		const client = new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch, backoff: fast });
		const error = await client
			.update("put", "/api/pbx/extensions/{extension}", {
				path: { extension: "1001" },
				change: (current) => ({ name: `${current.name} (VIP)` }),
			})
			.catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(OutcomeUnknownError);
		expect(error).toMatchObject({ current: { name: "Alicia" }, etag: '"v3"', attempted: { name: "Alice (VIP)" } });
		expect(server.puts).toBe(1);
	});

	it("a 412 without a lost attempt is someone else's write: read again and re-applied", async () => {
		let version = 1;
		let name = "Alice";
		let raced = false;
		const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
			const request = new Request(input, init);
			if (request.method === "GET") return json(200, { extension: "1001", name }, { ETag: `"v${version}"` });
			if (!raced) {
				raced = true;
				name = "Alicia";
				version++;
			}
			if (request.headers.get("If-Match") !== `"v${version}"`) return json(412, { message: "changed" });
			name = ((await request.json()) as { name: string }).name;
			version++;
			return json(200, { extension: "1001", name }, { ETag: `"v${version}"` });
		}) as typeof globalThis.fetch;
		const client = new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch, backoff: fast });
		await client.update("put", "/api/pbx/extensions/{extension}", {
			path: { extension: "1001" },
			change: (current) => ({ name: `${current.name} (VIP)` }),
		});
		expect(name).toBe("Alicia (VIP)");
	});

	it("holdsWrite: every written field holds its value (deeply); a null written reads back as null or absent", () => {
		expect(holdsWrite({ name: "A", tags: ["x"], extra: 1 }, { name: "A", tags: ["x"] })).toBe(true);
		expect(holdsWrite({ name: "A", tags: ["x", "y"] }, { name: "A", tags: ["x"] })).toBe(false);
		expect(holdsWrite({ name: "A", limits: { a: 1, b: 2 } }, { limits: { a: 1 } })).toBe(false);
		expect(holdsWrite({ name: "A" }, { forward_to: null })).toBe(true);
		expect(holdsWrite({ name: "A", forward_to: "1002" }, { forward_to: null })).toBe(false);
		expect(holdsWrite(undefined, { name: "A" })).toBe(false);
	});
});

describe("DELETE after a lost answer", () => {
	const queueServer = (lose: boolean) => {
		const queues = new Set(["q1"]);
		let lostOnce = !lose;
		const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
			const id = new URL(new Request(input, init).url).pathname.split("/").at(-1) ?? "";
			if (!queues.delete(id)) return json(404, { message: "Queue not found." });
			if (!lostOnce) {
				lostOnce = true;
				throw lost();
			}
			return new Response(null, { status: 204 });
		}) as typeof globalThis.fetch;
		return { queues, fetch };
	};

	it("its repeat's 404 is its own success: resolved, marked afterLostAttempt", async () => {
		const { queues, fetch } = queueServer(true);
		const client = new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch, backoff: fast });
		await expect(client.delete("/api/pbx/queues/{id}", { path: { id: "q1" } })).resolves.toBeUndefined();
		expect(queues.size).toBe(0);
		const again = queueServer(true);
		const answer = await new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch: again.fetch, backoff: fast }).request(
			"delete",
			"/api/pbx/queues/{id}",
			{ path: { id: "q1" } },
		);
		expect(answer).toMatchObject({ status: 404, data: undefined, afterLostAttempt: true, attempts: 2 });
	});

	it("a 404 on a first attempt is still NotFoundError, and a clean success is not marked", async () => {
		const { fetch } = queueServer(false);
		const client = new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch, backoff: fast });
		const answer = await client.request("delete", "/api/pbx/queues/{id}", { path: { id: "q1" } });
		expect(answer).toMatchObject({ status: 204, afterLostAttempt: false });
		await expect(client.delete("/api/pbx/queues/{id}", { path: { id: "q1" } })).rejects.toBeInstanceOf(NotFoundError);
	});
});

describe("bulk helpers after a lost answer or a failing chunk", () => {
	const ID = (n: number) => `${String(n).padStart(8, "0")}-1111-4111-8111-111111111111`;

	it("deleteLeads: a repeated chunk reports the leads it found missing as deleted_or_missing; a clean chunk keeps not_found", async () => {
		const leads = new Set([ID(1), ID(2)]);
		let lostOnce = false;
		const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
			const { ids } = (await new Request(input, init).json()) as { ids: string[] };
			// As workers/telesales/bulk.ts bulkDelete: deleted, or not_found when no such lead (any more).
			const results = ids.map((id) => ({ id, result: leads.delete(id) ? "deleted" : "not_found" }));
			if (!lostOnce) {
				lostOnce = true;
				throw lost();
			}
			return json(200, { results });
		}) as typeof globalThis.fetch;
		const client = new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch, backoff: fast });
		const report = await client.deleteLeads([ID(1), ID(2)]);
		expect(leads.size).toBe(0);
		// Deleted by the lost attempt, or never there: the client cannot tell, and says so (never a bare not_found).
		expect(report.results.map((item) => item.result)).toEqual(["deleted_or_missing", "deleted_or_missing"]);
		const clean = await client.deleteLeads([ID(3)]);
		expect(clean.results).toEqual([{ id: ID(3), result: "not_found" }]);
	});

	it("a later chunk failing leaves the earlier chunks' merged report on the error (bulkProgress)", async () => {
		let requests = 0;
		const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
			const { ids } = (await new Request(input, init).json()) as { ids: string[] };
			requests++;
			if (requests === 2) return json(422, { message: "The given data was invalid.", errors: { ids: ["bad"] } });
			return json(200, { results: ids.map((id) => ({ id, result: "deleted" })) });
		}) as typeof globalThis.fetch;
		const client = new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch, backoff: fast });
		const ids = Array.from({ length: 1_500 }, (_, i) => ID(i));
		const error = await client.deleteLeads(ids).catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(ValidationError);
		const progress = (error as ValidationError).bulkProgress;
		expect(progress?.processed).toBe(1_000);
		expect((progress?.report as { results: unknown[] } | undefined)?.results).toHaveLength(1_000);

		const imports = (async () => {
			throw lost();
		}) as typeof globalThis.fetch;
		const importError = await new Callgate({ baseUrl: "http://callgate.test", token: "t", fetch: imports, backoff: fast })
			.importLeads("c1", [{ phone: "0987000001" }])
			.catch((caught: unknown) => caught);
		expect(importError).toBeInstanceOf(NetworkError);
		expect((importError as NetworkError).bulkProgress).toEqual({
			processed: 0,
			report: { total: 0, created: 0, duplicates: 0, invalid: 0, rows: [] },
		});
	});
});
