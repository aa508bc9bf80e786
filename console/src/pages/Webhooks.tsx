import { useEffect, useState } from "preact/hooks";
import { get, getAll, request } from "../api";
import { Link } from "../components/Link";
import { StatusBadge } from "../components/StatusBadge";
import { ErrorNotice } from "../errors";
import { formatTime } from "../format";
import type { Delivery, Page, WebhookEndpoint } from "../types";

/** The delivery log's newest page is read again this often while an endpoint is open (the webhooks group allows 60 a minute). */
const LOG_REFRESH_MS = 5_000;
/** Deliveries per page of the log. */
const PAGE = 100;

export function WebhooksPage({ selected }: { selected?: string }) {
	const [endpoints, setEndpoints] = useState<WebhookEndpoint[]>();
	const [error, setError] = useState<unknown>();
	const [reload, setReload] = useState(0);

	useEffect(() => {
		getAll<WebhookEndpoint>("/api/webhooks/endpoints", 1).then(({ items }) => setEndpoints(items), setError);
	}, [reload]);

	const disabled = (endpoints ?? []).filter((endpoint) => !endpoint.enabled);
	const current = endpoints?.find((endpoint) => endpoint.id === selected);
	return (
		<section>
			<h1>Webhooks</h1>
			<ErrorNotice error={error} />
			{disabled.length > 0 && (
				<div class="notice notice-error" role="alert" data-testid="disabled-alert">
					<p class="notice-title">
						{disabled.length === 1 ? "1 endpoint is disabled" : `${disabled.length} endpoints are disabled`}: no events reach{" "}
						{disabled.length === 1 ? "it" : "them"}
					</p>
					<ul>
						{disabled.map((endpoint) => (
							<li key={endpoint.id}>
								<Link to={`/webhooks/${endpoint.id}`}>{endpoint.url}</Link>: {endpoint.disabled_reason ?? "disabled"}
							</li>
						))}
					</ul>
				</div>
			)}
			{endpoints === undefined ? (
				<p aria-busy="true">Loading…</p>
			) : endpoints.length === 0 ? (
				<p>No webhook endpoints yet.</p>
			) : (
				<table data-testid="endpoints">
					<caption class="sr-only">Webhook endpoints</caption>
					<thead>
						<tr>
							<th scope="col">URL</th>
							<th scope="col">State</th>
							<th scope="col">Events</th>
							<th scope="col">Failing since</th>
							<th scope="col">Last success</th>
						</tr>
					</thead>
					<tbody>
						{endpoints.map((endpoint) => (
							<tr
								key={endpoint.id}
								class={endpoint.enabled ? undefined : "row-bad"}
								aria-current={endpoint.id === selected ? "true" : undefined}
							>
								<td>
									<Link to={`/webhooks/${endpoint.id}`}>{endpoint.url}</Link>
								</td>
								<td>
									{endpoint.enabled ? (
										<StatusBadge status={endpoint.failing_since ? "failing" : "enabled"} />
									) : (
										<strong class="bad">DISABLED</strong>
									)}
								</td>
								<td>{endpoint.events.join(", ")}</td>
								<td>{formatTime(endpoint.failing_since)}</td>
								<td>{formatTime(endpoint.last_success_at)}</td>
							</tr>
						))}
					</tbody>
				</table>
			)}
			{current && <EndpointLog key={current.id} endpoint={current} onChanged={() => setReload((n) => n + 1)} />}
			{selected && endpoints && !current && <p>No such endpoint in this account.</p>}
			<NewEndpoint onCreated={() => setReload((n) => n + 1)} />
		</section>
	);
}

/** Rows by id, first occurrence wins (a refreshed newest page over older pages loaded before it). */
function mergeDeliveries(newest: Delivery[], older: Delivery[]): Delivery[] {
	const seen = new Set<string>();
	return [...newest, ...older].filter((delivery) => !seen.has(delivery.id) && seen.add(delivery.id));
}

/**
 * One endpoint's deliveries, newest first (each attempt's status and latency); older ones a page
 * at a time on request; resend; re-enable a disabled endpoint. The newest page is read again every
 * few seconds, so a receiver that starts failing shows its failed attempts however long the log is.
 */
function EndpointLog({ endpoint, onChanged }: { endpoint: WebhookEndpoint; onChanged: () => void }) {
	const [newest, setNewest] = useState<Delivery[]>();
	const [firstCursor, setFirstCursor] = useState<string | null>(null);
	const [older, setOlder] = useState<Delivery[]>([]);
	const [olderCursor, setOlderCursor] = useState<string | null>(null);
	const [error, setError] = useState<unknown>();
	const [note, setNote] = useState<string>();
	const [tick, setTick] = useState(0);
	// What is in flight (a resend per event, "enable", "older"): its button waits for the answer.
	const [busy, setBusy] = useState<ReadonlySet<string>>(new Set());
	const path = `/api/webhooks/endpoints/${encodeURIComponent(endpoint.id)}`;
	const pageUrl = (cursor: string | null) =>
		`${path}/deliveries?order=desc&limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;

	useEffect(() => {
		get<Page<Delivery>>(pageUrl(null)).then(({ body }) => {
			setNewest(body.data);
			setFirstCursor(body.next_cursor);
			setError(undefined);
		}, setError);
	}, [tick]);

	useEffect(() => {
		const refresh = setInterval(() => setTick((n) => n + 1), LOG_REFRESH_MS);
		return () => clearInterval(refresh);
	}, []);

	const track = async (key: string, work: () => Promise<void>) => {
		setBusy((keys) => new Set(keys).add(key));
		try {
			await work();
		} finally {
			setBusy((keys) => {
				const next = new Set(keys);
				next.delete(key);
				return next;
			});
		}
	};

	const act = (key: string, work: () => Promise<string>) =>
		track(key, async () => {
			setError(undefined);
			setNote(undefined);
			try {
				setNote(await work());
				setTick((n) => n + 1);
			} catch (failure) {
				setError(failure);
			}
		});

	// Older pages continue from the oldest row loaded: keyset cursors stay right while new rows arrive.
	const nextOlder = older.length > 0 ? olderCursor : firstCursor;
	const loadOlder = () =>
		track("older", async () => {
			try {
				const { body } = await get<Page<Delivery>>(pageUrl(nextOlder));
				setOlder((rows) => [...rows, ...body.data]);
				setOlderCursor(body.next_cursor);
			} catch (failure) {
				setError(failure);
			}
		});

	const resend = (delivery: Delivery) =>
		act(`resend:${delivery.id}`, async () => {
			await request("POST", `${path}/events/${encodeURIComponent(delivery.event_id)}/resend`);
			return `Event ${delivery.event_type} queued again.`;
		});

	const enable = () =>
		act("enable", async () => {
			// Over the version read now: a change made meanwhile elsewhere is a 412, not overwritten.
			const { etag } = await get<WebhookEndpoint>(path);
			await request("PATCH", path, { body: { enabled: true }, ifMatch: etag });
			onChanged();
			return "Endpoint enabled.";
		});

	const deliveries = newest === undefined ? undefined : mergeDeliveries(newest, older);
	return (
		<section class="card" aria-labelledby="log-heading">
			<h2 id="log-heading">Delivery log: {endpoint.url}</h2>
			{!endpoint.enabled && (
				<div class="notice notice-error" role="alert">
					<p class="notice-title">This endpoint is disabled</p>
					<p>{endpoint.disabled_reason ?? "No events are delivered to it."}</p>
					<button type="button" disabled={busy.has("enable")} onClick={() => void enable()}>
						{busy.has("enable") ? "Enabling…" : "Enable it again"}
					</button>
				</div>
			)}
			{note && (
				<p class="notice notice-ok" role="status">
					{note}
				</p>
			)}
			<ErrorNotice error={error} />
			{deliveries === undefined ? (
				<p aria-busy="true">Loading…</p>
			) : deliveries.length === 0 ? (
				<p>Nothing delivered to this endpoint yet.</p>
			) : (
				<table data-testid="deliveries">
					<caption class="sr-only">Deliveries to this endpoint, newest first</caption>
					<thead>
						<tr>
							<th scope="col">Event</th>
							<th scope="col">Status</th>
							<th scope="col">Attempts (status, latency, time)</th>
							<th scope="col">Next attempt</th>
							<th scope="col">
								<span class="sr-only">Actions</span>
							</th>
						</tr>
					</thead>
					<tbody>
						{deliveries.map((delivery) => (
							<tr key={delivery.id} data-delivery={delivery.id}>
								<td>
									{delivery.event_type}
									<br />
									<code class="muted">{delivery.event_id}</code>
								</td>
								<td>
									<StatusBadge status={delivery.status} />
								</td>
								<td>
									{delivery.attempts.length === 0 ? (
										"none yet"
									) : (
										<ol class="attempts">
											{delivery.attempts.map((attempt) => (
												<li key={attempt.attempt} data-status={attempt.status_code ?? attempt.error ?? ""}>
													<span class={attempt.status_code !== null && attempt.status_code < 300 ? "good" : "bad"}>
														{attempt.status_code ?? attempt.error}
													</span>{" "}
													{attempt.latency_ms} ms, {formatTime(attempt.attempted_at)}
												</li>
											))}
										</ol>
									)}
								</td>
								<td>{formatTime(delivery.next_attempt_at)}</td>
								<td>
									<button
										type="button"
										class="secondary"
										disabled={!endpoint.enabled || busy.has(`resend:${delivery.id}`)}
										aria-label={`Resend ${delivery.event_type} ${delivery.event_id}`}
										onClick={() => void resend(delivery)}
									>
										{busy.has(`resend:${delivery.id}`) ? "Resending…" : "Resend"}
									</button>
								</td>
							</tr>
						))}
					</tbody>
				</table>
			)}
			{deliveries !== undefined && nextOlder && (
				<button type="button" class="secondary" disabled={busy.has("older")} onClick={() => void loadOlder()}>
					{busy.has("older") ? "Loading…" : `Load ${PAGE} older`}
				</button>
			)}
		</section>
	);
}

/** Register an endpoint; its signing secret is shown here once, as the API shows it once. */
function NewEndpoint({ onCreated }: { onCreated: () => void }) {
	const [url, setUrl] = useState("");
	const [events, setEvents] = useState("*");
	const [secret, setSecret] = useState<string>();
	const [error, setError] = useState<unknown>();

	const submit = async () => {
		setError(undefined);
		setSecret(undefined);
		try {
			const { body } = await request<{ secret: string }>("POST", "/api/webhooks/endpoints", {
				body: { url, events: events.split(/[\s,]+/).filter(Boolean) },
			});
			setSecret(body.secret);
			setUrl("");
			onCreated();
		} catch (failure) {
			setError(failure);
		}
	};

	return (
		<form
			class="card"
			aria-label="Add a webhook endpoint"
			onSubmit={(event) => {
				event.preventDefault();
				void submit();
			}}
		>
			<h2>Add an endpoint</h2>
			<ErrorNotice error={error} />
			{secret && (
				<div class="notice notice-ok" role="status">
					<p class="notice-title">Endpoint added. Its signing secret, shown this once:</p>
					<code class="secret">{secret}</code>
				</div>
			)}
			<div class="grid">
				<label>
					URL
					<input name="url" type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
				</label>
				<label>
					Events (types, prefix.* or *)
					<input name="events" required value={events} onInput={(e) => setEvents(e.currentTarget.value)} />
				</label>
			</div>
			<button type="submit">Add endpoint</button>
		</form>
	);
}
