import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { defaultCallerId } from "../workers/pbx/caller-ids";
import { burst, call, callJson, countRows, pbxAccount } from "./helpers";

interface CallerId {
	id: string;
	number: string;
	label: string;
	is_default: boolean;
	created_at: string;
}

interface ErrorBody {
	message: string;
	errors?: Record<string, string[]>;
}

const register = async (token: string, number: string, extra: Record<string, unknown> = {}) => {
	const created = await callJson<CallerId>("/api/pbx/caller-ids", { token, body: { number, label: number, ...extra } });
	expect(created.status, JSON.stringify(created.body)).toBe(201);
	return created.body;
};

const listed = async (token: string) => (await callJson<{ data: CallerId[] }>("/api/pbx/caller-ids", { token })).body.data;

const patchCallerId = (token: string, id: string, body: unknown) =>
	callJson<CallerId & ErrorBody>(`/api/pbx/caller-ids/${id}`, { method: "PATCH", token, body });

const defaults = (accountId: string) => countRows("caller_ids", "account_id = ? AND is_default = 1", accountId);

describe("the account's default caller id", () => {
	it("none marked: the oldest is used; none at all: null", async () => {
		const account = await pbxAccount();
		expect(await defaultCallerId(env.DB, account.id)).toBeNull();
		const first = await register(account.token, "02838123401");
		await register(account.token, "02838123402");
		expect(first).toMatchObject({ number: "+842838123401", is_default: false });
		expect((await listed(account.token)).map((c) => c.is_default)).toEqual([false, false]);
		expect(await defaultCallerId(env.DB, account.id)).toBe("+842838123401");
	});

	it("is_default on create marks it and unmarks the previous default", async () => {
		const account = await pbxAccount();
		await register(account.token, "02822123401");
		const second = await register(account.token, "02822123402", { is_default: true });
		expect(second.is_default).toBe(true);
		expect(await defaultCallerId(env.DB, account.id)).toBe("+842822123402");
		const third = await register(account.token, "02822123403", { is_default: true });
		expect((await listed(account.token)).map((c) => [c.number, c.is_default])).toEqual([
			["+842822123401", false],
			["+842822123402", false],
			["+842822123403", true],
		]);
		expect(await defaultCallerId(env.DB, account.id)).toBe(third.number);
		// A refused create (the number is taken) leaves the default where it was.
		const taken = await callJson<ErrorBody>("/api/pbx/caller-ids", {
			token: account.token,
			body: { number: "+842822123401", label: "again", is_default: true },
		});
		expect(taken.status).toBe(409);
		expect(await defaultCallerId(env.DB, account.id)).toBe(third.number);
	});

	it("PATCH is_default true moves the mark, false clears it; the label may change too", async () => {
		const account = await pbxAccount();
		const [a, b] = [await register(account.token, "02823123401"), await register(account.token, "02823123402")];
		const marked = await patchCallerId(account.token, b.id, { is_default: true });
		expect(marked.status).toBe(200);
		expect(marked.body).toEqual({ ...b, is_default: true });
		expect(await defaultCallerId(env.DB, account.id)).toBe(b.number);
		// Marking it again changes nothing.
		expect((await patchCallerId(account.token, b.id, { is_default: true })).body.is_default).toBe(true);
		const moved = await patchCallerId(account.token, a.id, { is_default: true, label: "Head office" });
		expect(moved.body).toMatchObject({ id: a.id, is_default: true, label: "Head office" });
		expect((await listed(account.token)).map((c) => [c.label, c.is_default])).toEqual([
			["Head office", true],
			["02823123402", false],
		]);
		const relabelled = await patchCallerId(account.token, b.id, { label: "  Sales line " });
		expect(relabelled.body).toMatchObject({ label: "Sales line", is_default: false });
		const cleared = await patchCallerId(account.token, a.id, { is_default: false });
		expect(cleared.body.is_default).toBe(false);
		expect(await defaults(account.id)).toBe(0);
		// Back to the oldest.
		expect(await defaultCallerId(env.DB, account.id)).toBe(a.number);
	});

	it("the cacheable list's ETag changes when the default moves", async () => {
		const account = await pbxAccount();
		const [a] = [await register(account.token, "02824123401"), await register(account.token, "02824123402")];
		const before = await call("/api/pbx/caller-ids", { token: account.token });
		const etag = before.headers.get("ETag") ?? "";
		expect((await call("/api/pbx/caller-ids", { token: account.token, headers: { "If-None-Match": etag } })).status).toBe(304);
		await patchCallerId(account.token, a?.id ?? "", { is_default: true });
		expect((await call("/api/pbx/caller-ids", { token: account.token, headers: { "If-None-Match": etag } })).status).toBe(200);
	});

	it("bad PATCHes are 422 (the number cannot change) or 404, and change nothing", async () => {
		const account = await pbxAccount();
		const callerId = await register(account.token, "02825123401", { is_default: true });
		for (const [body, field] of [
			[{ label: "" }, "label"],
			[{ is_default: "yes" }, "is_default"],
			[{ number: "02825123499" }, "body"],
		] as const) {
			const refused = await patchCallerId(account.token, callerId.id, body);
			expect(refused.status, JSON.stringify(body)).toBe(422);
			expect(Object.keys(refused.body.errors ?? {}), JSON.stringify(body)).toEqual([field]);
		}
		expect((await patchCallerId(account.token, crypto.randomUUID(), { is_default: true })).status).toBe(404);
		expect((await patchCallerId(account.token, "not-an-id", { is_default: true })).status).toBe(404);
		expect(await listed(account.token)).toEqual([callerId]);
	});

	it("deleting the default leaves none marked: the oldest remaining is used", async () => {
		const account = await pbxAccount();
		const oldest = await register(account.token, "02826123401");
		const marked = await register(account.token, "02826123402", { is_default: true });
		expect((await call(`/api/pbx/caller-ids/${marked.id}`, { method: "DELETE", token: account.token })).status).toBe(204);
		expect(await defaults(account.id)).toBe(0);
		expect((await listed(account.token)).map((c) => c.is_default)).toEqual([false]);
		expect(await defaultCallerId(env.DB, account.id)).toBe(oldest.number);
	});

	it("another account can neither mark nor relabel our caller ids, and its marks leave ours alone", async () => {
		const [account, other] = await Promise.all([pbxAccount(), pbxAccount()]);
		const ours = await register(account.token, "02827123401", { is_default: true });
		const theirs = await register(other.token, "02827123402");
		const refused = await patchCallerId(other.token, ours.id, { is_default: false, label: "taken over" });
		expect(refused.status).toBe(404);
		// Marking an id of ours from their account must not unmark their default, nor ours.
		await patchCallerId(other.token, theirs.id, { is_default: true });
		expect((await patchCallerId(other.token, ours.id, { is_default: true })).status).toBe(404);
		expect(await listed(account.token)).toEqual([ours]);
		expect(await defaultCallerId(env.DB, account.id)).toBe(ours.number);
		expect(await defaultCallerId(env.DB, other.id)).toBe(theirs.number);
		expect(await defaults(other.id)).toBe(1);
	});

	it("a burst of concurrent PATCHes (and creates) each making another caller id default leaves exactly one", async () => {
		const account = await pbxAccount();
		const ids: CallerId[] = [];
		for (let i = 0; i < 12; i++) ids.push(await register(account.token, `0282812${String(3400 + i)}`));
		const results = await burst(24, (i) => {
			const target = ids[i % ids.length];
			return i % 6 === 5
				? callJson<CallerId>("/api/pbx/caller-ids", {
						token: account.token,
						body: { number: `0282813${String(3400 + i)}`, label: `new ${i}`, is_default: true },
					})
				: patchCallerId(account.token, target?.id ?? "", { is_default: true });
		});
		expect(results.map((r) => r.status).sort()).toEqual([...Array(20).fill(200), ...Array(4).fill(201)]);
		expect(await defaults(account.id)).toBe(1);
		const all = await listed(account.token);
		expect(all.filter((c) => c.is_default)).toHaveLength(1);
		expect(await defaultCallerId(env.DB, account.id)).toBe(all.find((c) => c.is_default)?.number);
	});
});
