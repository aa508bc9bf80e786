import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { agentLegOf, findCallingExtension } from "../workers/pbx/extensions";
import { call, callJson, countRows, pbxAccount } from "./helpers";

interface Extension {
	id: string;
	extension: string;
	name: string;
	caller_id: string | null;
	sip_uri: string | null;
	forward_to: string | null;
	version: number;
}

interface ErrorBody {
	message: string;
	errors?: Record<string, string[]>;
}

const SIP_MESSAGE = "Must be a SIP URI: sip:user@host or sips:user@host, optionally with :port and ;parameters.";
const PHONE_MESSAGE = "Not a valid phone number (read in region VN).";

const extensionAt = (token: string, number: string) => callJson<Extension>(`/api/pbx/extensions/${number}`, { token });

describe("an extension's agent leg: sip_uri and forward_to", () => {
	it("are null unless given, and are stored as given on create (forward_to in E.164 for the account's region)", async () => {
		const account = await pbxAccount();
		const plain = await extensionAt(account.token, "1001");
		expect(plain.body).toMatchObject({ sip_uri: null, forward_to: null });
		const created = await callJson<Extension>("/api/pbx/extensions", {
			token: account.token,
			body: {
				extension: "1002",
				name: "Agent Lan",
				sip_uri: "SIP:lan@pbx.example.com:5061;transport=tls",
				forward_to: "0987 654 321",
			},
		});
		expect(created.status).toBe(201);
		// The scheme in lower case, the user part as sent.
		expect(created.body).toMatchObject({ sip_uri: "sip:lan@pbx.example.com:5061;transport=tls", forward_to: "+84987654321" });
		expect((await extensionAt(account.token, "1002")).body).toMatchObject(created.body);
		const sips = await callJson<Extension>("/api/pbx/extensions", {
			token: account.token,
			body: { extension: "1003", name: "Secure", sip_uri: "sips:agent.7%40x@[2001:db8::10]" },
		});
		expect(sips.status).toBe(201);
		expect(sips.body).toMatchObject({ sip_uri: "sips:agent.7%40x@[2001:db8::10]", forward_to: null });
		const phone = await callJson<Extension>("/api/pbx/extensions", {
			token: account.token,
			body: { extension: "1004", name: "Mobile", forward_to: "+1 415 555 2671" },
		});
		expect(phone.body).toMatchObject({ sip_uri: null, forward_to: "+14155552671" });
	});

	it("bad SIP URIs and bad numbers are 422 naming the field, on create, PUT and PATCH, and store nothing", async () => {
		const account = await pbxAccount();
		const badSip = [
			"agent@pbx.example.com",
			"http://pbx.example.com/agent",
			"javascript:alert(1)//@x",
			"tel:+14155552671",
			"sip:pbx.example.com",
			"sip:@pbx.example.com",
			"sip:agent@",
			"sip:agent@pbx..example.com",
			"sip:agent:secret@pbx.example.com",
			"sip:agent@pbx.example.com:0",
			"sip:agent@pbx.example.com:70000",
			"sip:agent@pbx.example.com?Subject=hi",
			"sip:ag ent@pbx.example.com",
			"sip:<agent>@pbx.example.com",
			`sip:${"a".repeat(250)}@pbx.example.com`,
		];
		for (const sip_uri of badSip) {
			const refused = await callJson<ErrorBody>("/api/pbx/extensions", {
				token: account.token,
				body: { extension: "1002", name: "Sales", sip_uri },
			});
			expect(refused.status, sip_uri).toBe(422);
			expect(Object.keys(refused.body.errors ?? {}), sip_uri).toEqual(["sip_uri"]);
		}
		const message = await callJson<ErrorBody>("/api/pbx/extensions", {
			token: account.token,
			body: { extension: "1002", name: "Sales", sip_uri: "sip:agent@" },
		});
		expect(message.body.errors).toEqual({ sip_uri: [SIP_MESSAGE] });
		for (const forward_to of ["12345", "not a number", "+84 000"]) {
			const refused = await callJson<ErrorBody>("/api/pbx/extensions", {
				token: account.token,
				body: { extension: "1002", name: "Sales", forward_to },
			});
			expect(refused.status, forward_to).toBe(422);
			expect(refused.body.errors, forward_to).toEqual({ forward_to: [PHONE_MESSAGE] });
			expect(refused.body.message).toBe(`The given data was invalid: forward_to: ${PHONE_MESSAGE}`);
		}
		expect(await countRows("extensions", "account_id = ? AND extension = '1002'", account.id)).toBe(0);

		for (const method of ["PUT", "PATCH"]) {
			const sip = await callJson<ErrorBody>("/api/pbx/extensions/1001", {
				method,
				token: account.token,
				body: { name: "Front desk", sip_uri: "sips:agent" },
			});
			expect(sip.status, method).toBe(422);
			expect(sip.body.errors, method).toEqual({ sip_uri: [SIP_MESSAGE] });
			const number = await callJson<ErrorBody>("/api/pbx/extensions/1001", {
				method,
				token: account.token,
				body: { name: "Front desk", forward_to: "0123" },
			});
			expect(number.status, method).toBe(422);
			expect(number.body.errors, method).toEqual({ forward_to: [PHONE_MESSAGE] });
		}
		expect((await extensionAt(account.token, "1001")).body).toMatchObject({ version: 1, sip_uri: null, forward_to: null });
	});

	it("PUT replaces them (left out: cleared); PATCH changes only the fields it names, null clears", async () => {
		const account = await pbxAccount();
		const put = await callJson<Extension>("/api/pbx/extensions/1001", {
			method: "PUT",
			token: account.token,
			body: { name: "Front desk", sip_uri: "sip:desk@pbx.example.com", forward_to: "0987654321" },
		});
		expect(put.status).toBe(200);
		expect(put.body).toMatchObject({ sip_uri: "sip:desk@pbx.example.com", forward_to: "+84987654321", version: 2 });
		const patched = await callJson<Extension>("/api/pbx/extensions/1001", {
			method: "PATCH",
			token: account.token,
			body: { sip_uri: null },
		});
		expect(patched.status).toBe(200);
		expect(patched.body).toMatchObject({ name: "Front desk", sip_uri: null, forward_to: "+84987654321", version: 3 });
		const renamed = await callJson<Extension>("/api/pbx/extensions/1001", {
			method: "PATCH",
			token: account.token,
			body: { name: "Reception" },
		});
		expect(renamed.body).toMatchObject({ name: "Reception", forward_to: "+84987654321" });
		const replaced = await callJson<Extension>("/api/pbx/extensions/1001", {
			method: "PUT",
			token: account.token,
			body: { name: "Reception" },
		});
		expect(replaced.body).toMatchObject({ sip_uri: null, forward_to: null });
	});

	it("PATCH takes back GET's representation with If-Match; a stale ETag is 412 and changes nothing", async () => {
		const account = await pbxAccount();
		const got = await extensionAt(account.token, "1001");
		const etag = got.response.headers.get("ETag") ?? "";
		const written = await callJson<Extension>("/api/pbx/extensions/1001", {
			method: "PATCH",
			token: account.token,
			headers: { "If-Match": etag },
			body: { ...got.body, forward_to: "0987654321" },
		});
		expect(written.status).toBe(200);
		expect(written.body).toMatchObject({ forward_to: "+84987654321", version: 2 });
		expect(written.response.headers.get("ETag")).toBe('"v2"');
		const stale = await callJson<ErrorBody>("/api/pbx/extensions/1001", {
			method: "PATCH",
			token: account.token,
			headers: { "If-Match": etag },
			body: { sip_uri: "sip:late@pbx.example.com" },
		});
		expect(stale.status).toBe(412);
		expect(stale.body.message).toBe("Resource has changed, please GET again.");
		const conflicting = await callJson<ErrorBody>("/api/pbx/extensions/1001", {
			method: "PATCH",
			token: account.token,
			body: { ...written.body, extension: "1009" },
		});
		expect(conflicting.status).toBe(422);
		expect(Object.keys(conflicting.body.errors ?? {})).toEqual(["extension"]);
		expect((await extensionAt(account.token, "1001")).body).toMatchObject({ sip_uri: null, version: 2 });
	});

	it("another account can neither read nor change them", async () => {
		const [account, other] = await Promise.all([pbxAccount(), pbxAccount()]);
		await callJson("/api/pbx/extensions", {
			token: account.token,
			body: { extension: "2001", name: "Ours", sip_uri: "sip:ours@pbx.example.com" },
		});
		expect((await call("/api/pbx/extensions/2001", { token: other.token })).status).toBe(404);
		const patched = await call("/api/pbx/extensions/2001", {
			method: "PATCH",
			token: other.token,
			body: { sip_uri: "sip:theirs@evil.example.com" },
		});
		expect(patched.status).toBe(404);
		// Both accounts have a 1001: a PATCH changes the caller's own.
		await callJson("/api/pbx/extensions/1001", { method: "PATCH", token: other.token, body: { forward_to: "0987654321" } });
		expect((await extensionAt(account.token, "1001")).body.forward_to).toBeNull();
		expect((await extensionAt(other.token, "1001")).body.forward_to).toBe("+84987654321");
		expect((await extensionAt(account.token, "2001")).body.sip_uri).toBe("sip:ours@pbx.example.com");
	});
});

describe("agentLegOf and findCallingExtension", () => {
	it("ring the SIP URI when there is one, else the forwarding number, else nothing", () => {
		expect(agentLegOf({ sip_uri: "sip:a@pbx.example.com", forward_to: "+84987654321" })).toBe("sip:a@pbx.example.com");
		expect(agentLegOf({ sip_uri: null, forward_to: "+84987654321" })).toBe("+84987654321");
		expect(agentLegOf({ sip_uri: null, forward_to: null })).toBeNull();
	});

	it("the extension a call is placed from carries its legs, of the caller's account only", async () => {
		const [account, other] = await Promise.all([pbxAccount(), pbxAccount()]);
		await callJson("/api/pbx/extensions/1001", {
			method: "PATCH",
			token: account.token,
			body: { sip_uri: "sip:desk@pbx.example.com", forward_to: "0987654321" },
		});
		const calling = await findCallingExtension(env.DB, account.id, "1001");
		expect(calling).toMatchObject({ sip_uri: "sip:desk@pbx.example.com", forward_to: "+84987654321", caller_id_held: 1 });
		expect(agentLegOf(calling)).toBe("sip:desk@pbx.example.com");
		expect(agentLegOf(await findCallingExtension(env.DB, other.id, "1001"))).toBeNull();
	});
});
