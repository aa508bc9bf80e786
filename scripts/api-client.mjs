// A small JSON client for the local server, shared by `npm run bench` and `npm run chaos`.

/** Calls `base + path` as a CRM would: bearer token, JSON body, a bounded wait; a body that is not JSON comes back as `{ raw }`. */
export async function api(base, path, { token, body, method, headers = {}, timeoutMs = 60_000 } = {}) {
	const response = await fetch(`${base}${path}`, {
		method: method ?? (body === undefined ? "GET" : "POST"),
		headers: {
			...(token ? { Authorization: `Bearer ${token}` } : {}),
			...(body === undefined ? {} : { "Content-Type": "application/json" }),
			...headers,
		},
		body: body === undefined ? undefined : JSON.stringify(body),
		signal: AbortSignal.timeout(timeoutMs),
	});
	const text = await response.text();
	let parsed = null;
	try {
		parsed = text ? JSON.parse(text) : null;
	} catch {
		parsed = { raw: text };
	}
	return { status: response.status, body: parsed, headers: response.headers };
}
