import { useEffect, useState } from "preact/hooks";
import { get, getAll } from "../api";
import { type CallFilter, filterCalls, outcomesOf } from "../call-filter";
import { Link } from "../components/Link";
import { StatusBadge } from "../components/StatusBadge";
import { ErrorNotice } from "../errors";
import { onAccountEvent } from "../events";
import { formatDuration, formatTime } from "../format";
import { navigate, useRoute } from "../router";
import type { Call, Campaign, Page } from "../types";

const STATUSES = [
	"queued",
	"dialing",
	"ringing",
	"in_progress",
	"completed",
	"no_answer",
	"busy",
	"failed",
	"timeout",
	"cancelled",
];

/**
 * The account's calls (or one campaign's), newest first (the API's `order=desc`). Status is
 * filtered by the API; outcome and number among the rows loaded. New calls are announced, not
 * pushed into the table under the reader's eyes.
 */
export function CallsPage() {
	const { query } = useRoute();
	const campaignId = query.get("campaign") ?? "";
	const status = query.get("status") ?? "";
	const [calls, setCalls] = useState<Call[]>();
	const [cursor, setCursor] = useState<string | null>(null);
	const [error, setError] = useState<unknown>();
	const [filter, setFilter] = useState<CallFilter>({ outcome: "", phone: "" });
	const [campaigns, setCampaigns] = useState<Campaign[]>([]);
	const [fresh, setFresh] = useState(0);
	const [reload, setReload] = useState(0);

	const base = campaignId ? `/api/autocall/campaigns/${encodeURIComponent(campaignId)}/calls` : "/api/pbx/calls";
	const pageUrl = (after: string | null) => {
		const params = new URLSearchParams({ limit: "100", order: "desc" });
		if (status && !campaignId) params.set("status", status);
		if (after) params.set("cursor", after);
		return `${base}?${params}`;
	};

	useEffect(() => {
		setCalls(undefined);
		setFresh(0);
		get<Page<Call>>(pageUrl(null)).then(({ body }) => {
			setCalls(body.data);
			setCursor(body.next_cursor);
			setError(undefined);
		}, setError);
	}, [base, status, reload]);

	useEffect(() => {
		getAll<Campaign>("/api/autocall/campaigns", 1).then(({ items }) => setCampaigns(items), setError);
		return onAccountEvent((event) => {
			if (event.type === "call.completed" || event.type === "call.started") setFresh((n) => n + 1);
		});
	}, []);

	const more = async () => {
		try {
			const { body } = await get<Page<Call>>(pageUrl(cursor));
			setCalls([...(calls ?? []), ...body.data]);
			setCursor(body.next_cursor);
		} catch (failure) {
			setError(failure);
		}
	};

	const setQuery = (changes: Record<string, string>) => {
		const params = new URLSearchParams(location.search);
		for (const [key, value] of Object.entries(changes)) {
			if (value) params.set(key, value);
			else params.delete(key);
		}
		const search = params.toString();
		navigate(`/calls${search ? `?${search}` : ""}`, { replace: true });
	};

	const shown = calls ? filterCalls(calls, filter) : [];
	return (
		<section>
			<h1>Calls</h1>
			<ErrorNotice error={error} />
			<form class="filters" aria-label="Filter calls" onSubmit={(event) => event.preventDefault()}>
				<label>
					Campaign
					<select value={campaignId} onChange={(e) => setQuery({ campaign: e.currentTarget.value, status: "" })}>
						<option value="">All calls of the account</option>
						{campaigns.map((campaign) => (
							<option key={campaign.id} value={campaign.id}>
								{campaign.name}
							</option>
						))}
						{campaignId && !campaigns.some((c) => c.id === campaignId) && <option value={campaignId}>This campaign</option>}
					</select>
				</label>
				<label>
					Status
					<select value={status} disabled={Boolean(campaignId)} onChange={(e) => setQuery({ status: e.currentTarget.value })}>
						<option value="">Any</option>
						{STATUSES.map((s) => (
							<option key={s} value={s}>
								{s.replace("_", " ")}
							</option>
						))}
					</select>
				</label>
				<label>
					Outcome
					<select value={filter.outcome} onChange={(e) => setFilter({ ...filter, outcome: e.currentTarget.value })}>
						<option value="">Any</option>
						{outcomesOf(calls ?? []).map((outcome) => (
							<option key={outcome} value={outcome}>
								{outcome.replace("_", " ")}
							</option>
						))}
					</select>
				</label>
				<label>
					Number contains
					<input type="search" value={filter.phone} onInput={(e) => setFilter({ ...filter, phone: e.currentTarget.value })} />
				</label>
			</form>
			{fresh > 0 && (
				<p class="notice notice-info" role="status">
					{fresh} call {fresh === 1 ? "event" : "events"} since this list was loaded.{" "}
					<button type="button" class="secondary" onClick={() => setReload((n) => n + 1)}>
						Reload
					</button>
				</p>
			)}
			{calls === undefined ? (
				<p aria-busy="true">Loading…</p>
			) : (
				<>
					<p class="muted" role="status">
						{shown.length} of {calls.length} loaded calls shown{cursor ? " (older ones to load)" : ""}, newest first.
					</p>
					<div class="scroll">
						<table data-testid="calls">
							<caption class="sr-only">Calls with their outcomes and durations</caption>
							<thead>
								<tr>
									<th scope="col">Created</th>
									<th scope="col">To</th>
									<th scope="col">Kind</th>
									<th scope="col">Status</th>
									<th scope="col">Outcome</th>
									<th scope="col">Attempt</th>
									<th scope="col">Duration</th>
									<th scope="col">Failure reason</th>
								</tr>
							</thead>
							<tbody>
								{shown.map((call) => (
									<tr key={call.id}>
										<td>{formatTime(call.created_at)}</td>
										<td>{call.to_phone}</td>
										<td>
											{call.campaign_id ? (
												<Link to={`/campaigns/${call.campaign_id}`}>campaign</Link>
											) : (
												call.kind.replaceAll("_", " ")
											)}
										</td>
										<td>
											<StatusBadge status={call.status} />
										</td>
										<td>{call.outcome?.replace("_", " ") ?? "—"}</td>
										<td>{call.attempt}</td>
										<td>{formatDuration(call.duration_seconds)}</td>
										<td>{call.failure_reason ?? ""}</td>
									</tr>
								))}
							</tbody>
						</table>
					</div>
					{cursor && (
						<button type="button" class="secondary" onClick={() => void more()}>
							Load 100 older
						</button>
					)}
				</>
			)}
		</section>
	);
}
