// A loopback HTTP proxy in front of the test server that counts what the server sees and injects
// the faults the SDK must survive: it records every exchange (status, Idempotency-Key, replay),
// counts requests in flight per token (the server's point of view of the connection cap), drops
// the response of a chosen request after the server answered it (a lost answer), ends open event
// streams (a closed stream) and holds new ones back (a client kept away while events happen).
import { createServer, request as upstreamRequest } from "node:http";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";

export async function startFaultProxy({ port, target }) {
	const upstream = new URL(target);
	/** @type {{ method: string, path: string, token: string, key: string | undefined, status: number | undefined, replayed: boolean, message: string | undefined, dropped: boolean, ifNoneMatch: string | undefined }[]} */
	const exchanges = [];
	const inFlight = new Map();
	const maxInFlight = new Map();
	const drops = [];
	const streams = new Set();
	let holding = null;

	const server = createServer((req, res) => {
		const token = (req.headers.authorization ?? "").replace(/^Bearer /, "");
		const exchange = {
			method: req.method,
			path: req.url,
			token,
			key: req.headers["idempotency-key"],
			ifNoneMatch: req.headers["if-none-match"],
			lastEventId: req.headers["last-event-id"],
			status: undefined,
			replayed: false,
			message: undefined,
			dropped: false,
		};
		exchanges.push(exchange);
		const isStream = (req.headers.accept ?? "").includes("text/event-stream");
		const forward = () => {
			// A held client that gave up meanwhile: nothing to forward.
			if (res.destroyed || req.socket.destroyed) return;
			const now = (inFlight.get(token) ?? 0) + 1;
			inFlight.set(token, now);
			maxInFlight.set(token, Math.max(maxInFlight.get(token) ?? 0, now));
			let done = false;
			const finish = () => {
				if (done) return;
				done = true;
				inFlight.set(token, (inFlight.get(token) ?? 1) - 1);
			};
			const drop = drops.findIndex((rule) => rule.matches(exchange));
			const dropping = drop >= 0 ? drops.splice(drop, 1)[0] : undefined;
			const headers = { ...req.headers, host: upstream.host };
			const out = upstreamRequest(
				{ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
				(answer) => {
					exchange.status = answer.statusCode;
					exchange.replayed = answer.headers["idempotent-replayed"] === "true";
					if (isStream && answer.statusCode === 200) {
						res.writeHead(answer.statusCode, answer.headers);
						const stream = { token, res, answer };
						streams.add(stream);
						answer.pipe(res);
						const close = () => {
							streams.delete(stream);
							answer.destroy();
							// The server's side ended, however it did: so does the client's.
							res.end();
							finish();
						};
						res.on("close", close);
						answer.on("close", close);
						return;
					}
					const chunks = [];
					answer.on("data", (chunk) => chunks.push(chunk));
					answer.on("end", () => {
						const body = Buffer.concat(chunks);
						if (answer.statusCode >= 400) {
							try {
								exchange.message = JSON.parse(decoded(body, answer.headers["content-encoding"]).toString("utf8")).message;
							} catch {}
						}
						finish();
						if (dropping) {
							// The server answered in full; the client never hears it.
							exchange.dropped = true;
							dropping.resolve(exchange);
							req.socket.destroy();
							return;
						}
						res.writeHead(answer.statusCode, answer.headers);
						res.end(body);
					});
				},
			);
			out.on("error", (error) => {
				finish();
				exchange.status = 502;
				if (!res.headersSent) res.writeHead(502, { "Content-Type": "application/json" });
				res.end(JSON.stringify({ message: `proxy: ${error.message}` }));
			});
			req.pipe(out);
		};
		if (isStream && holding) holding.push(forward);
		else forward();
	});
	// Streams and keep-alive sockets must not hold the close up.
	server.keepAliveTimeout = 1_000;
	await new Promise((resolve, reject) => {
		server.once("error", reject);
		server.listen(port, "127.0.0.1", resolve);
	});

	return {
		url: `http://127.0.0.1:${port}`,
		exchanges,
		/** Most requests of this token the server had in flight at once. */
		maxInFlight: (token) => maxInFlight.get(token) ?? 0,
		/** Drops the response of the next exchange `matches` takes; resolves with it once dropped. */
		dropNextResponse(matches) {
			return new Promise((resolve) => drops.push({ matches, resolve }));
		},
		/** Ends the token's open event streams, as a server closing them would; how many there were. */
		closeStreams(token) {
			const open = [...streams].filter((stream) => stream.token === token);
			for (const stream of open) {
				stream.answer.destroy();
				stream.res.end();
			}
			return open.length;
		},
		/** New event streams wait here until `release()`. */
		holdStreams() {
			holding ??= [];
		},
		heldStreams: () => holding?.length ?? 0,
		releaseStreams() {
			const held = holding ?? [];
			holding = null;
			for (const forward of held) forward();
		},
		close: () =>
			new Promise((resolve) => {
				for (const stream of streams) stream.answer.destroy();
				server.closeAllConnections();
				server.close(resolve);
			}),
	};
}

/** The body as sent, before its content coding: the server compresses when the client accepts it. */
function decoded(body, encoding) {
	if (encoding === "gzip") return gunzipSync(body);
	if (encoding === "br") return brotliDecompressSync(body);
	if (encoding === "deflate") return inflateSync(body);
	return body;
}
