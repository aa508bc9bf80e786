// Webhook fan-out: a local receiver (this process, loopback only) verifies every delivery's
// signature with the reference standardwebhooks library and counts distinct webhook-ids.
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";
import { api } from "./server.mjs";

function startReceiver(port) {
	const received = new Map(); // path → Set of webhook-ids
	let invalid = 0;
	let verifiers = new Map();
	const server = createServer((request, response) => {
		let body = "";
		request.on("data", (chunk) => {
			body += chunk;
		});
		request.on("end", () => {
			try {
				verifiers.get(request.url)?.verify(body, request.headers);
				const ids = received.get(request.url) ?? new Set();
				ids.add(request.headers["webhook-id"]);
				received.set(request.url, ids);
			} catch {
				invalid++;
			}
			response.writeHead(204).end();
		});
	});
	return new Promise((resolve) =>
		server.listen(port, "127.0.0.1", () =>
			resolve({
				received,
				invalid: () => invalid,
				setVerifiers: (map) => {
					verifiers = map;
				},
				count: () => [...received.values()].reduce((sum, ids) => sum + ids.size, 0),
				close: () => server.close(),
			}),
		),
	);
}

export async function webhookFanOut(base, token, { endpoints = 5, messages = 200, port = 8799 } = {}) {
	const receiver = await startReceiver(port);
	try {
		const verifiers = new Map();
		for (let i = 0; i < endpoints; i++) {
			const path = `/hook/${i}`;
			const created = await api(base, "/api/webhooks/endpoints", {
				token,
				body: { url: `http://127.0.0.1:${port}${path}`, events: ["sms.*"] },
			});
			if (created.status !== 201) throw new Error(`endpoint: ${created.status} ${JSON.stringify(created.body)}`);
			verifiers.set(path, new Webhook(created.body.secret));
		}
		receiver.setVerifiers(verifiers);
		const started = performance.now();
		for (let i = 0; i < messages; i += 20) {
			await Promise.all(
				Array.from({ length: Math.min(20, messages - i) }, () =>
					api(base, "/api/integrations/sms", {
						token,
						body: { to: "0987654321", text: "Fan-out" },
						headers: { "Idempotency-Key": randomUUID() },
					}),
				),
			);
		}
		// Each SMS emits sms.sent and sms.delivered: two events per endpoint.
		const expected = messages * 2 * endpoints;
		const deadline = Date.now() + 180_000;
		while (receiver.count() < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
		const seconds = (performance.now() - started) / 1000;
		return { expected, delivered: receiver.count(), invalid: receiver.invalid(), seconds, perSecond: receiver.count() / seconds };
	} finally {
		receiver.close();
	}
}
