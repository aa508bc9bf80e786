// Webhook fan-out: a local receiver (this process, loopback only) verifies every delivery's
// signature with the reference standardwebhooks library and counts distinct webhook-ids.
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";
import { api } from "./server.mjs";

// Port 0: the OS picks a free port, so benchmarks running side by side never share a receiver.
function startReceiver(port = 0) {
	const received = new Map(); // path → Set of webhook-ids
	let invalid = 0;
	let verifiers = new Map();
	// When the latest new webhook-id arrived: the run ends then, not at the next poll.
	let lastAt = performance.now();
	const server = createServer((request, response) => {
		let body = "";
		request.on("data", (chunk) => {
			body += chunk;
		});
		request.on("end", () => {
			try {
				verifiers.get(request.url)?.verify(body, request.headers);
				const ids = received.get(request.url) ?? new Set();
				if (!ids.has(request.headers["webhook-id"])) lastAt = performance.now();
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
				port: server.address().port,
				received,
				invalid: () => invalid,
				setVerifiers: (map) => {
					verifiers = map;
				},
				count: () => [...received.values()].reduce((sum, ids) => sum + ids.size, 0),
				lastAt: () => lastAt,
				close: () => server.close(),
			}),
		),
	);
}

export async function webhookFanOut(base, token, { endpoints = 5, messages = 200, inFlight = 20, port } = {}) {
	const receiver = await startReceiver(port);
	try {
		const verifiers = new Map();
		for (let i = 0; i < endpoints; i++) {
			const path = `/hook/${i}`;
			const created = await api(base, "/api/webhooks/endpoints", {
				token,
				body: { url: `http://127.0.0.1:${receiver.port}${path}`, events: ["sms.*"] },
			});
			if (created.status !== 201) throw new Error(`endpoint: ${created.status} ${JSON.stringify(created.body)}`);
			verifiers.set(path, new Webhook(created.body.secret));
		}
		receiver.setVerifiers(verifiers);
		const started = performance.now();
		// A pool of 20 clients, each sending its next SMS as its last is answered.
		let next = 0;
		const client = async () => {
			while (next < messages) {
				next++;
				const answer = await api(base, "/api/integrations/sms", {
					token,
					body: { to: "0987654321", text: "Fan-out" },
					headers: { "Idempotency-Key": randomUUID() },
				});
				// A refused SMS makes no events: the run would wait out its deadline for deliveries that never come.
				if (answer.status !== 201) throw new Error(`sms: ${answer.status} ${JSON.stringify(answer.body)}`);
			}
		};
		await Promise.all(Array.from({ length: Math.min(inFlight, messages) }, client));
		// The SMS API's own pace bounds the run: deliveries can start no sooner than their events.
		const sentIn = (performance.now() - started) / 1000;
		const deliveredBySent = receiver.count();
		// Each SMS emits sms.sent and sms.delivered: two events per endpoint.
		const expected = messages * 2 * endpoints;
		const deadline = Date.now() + 180_000;
		while (receiver.count() < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
		const delivered = receiver.count();
		const seconds = ((delivered < expected ? performance.now() : receiver.lastAt()) - started) / 1000;
		return {
			expected,
			delivered,
			invalid: receiver.invalid(),
			seconds,
			perSecond: delivered / seconds,
			sentIn,
			deliveredBySent,
			// After the last SMS was answered: the deliveries still to go, and how fast they went.
			drainPerSecond: (delivered - deliveredBySent) / Math.max(seconds - sentIn, 0.001),
		};
	} finally {
		receiver.close();
	}
}
