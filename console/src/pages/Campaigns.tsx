import { useEffect, useState } from "preact/hooks";
import { getAll } from "../api";
import { settled } from "../campaign-state";
import { useLiveCampaign } from "../campaigns";
import { Link } from "../components/Link";
import { Progress } from "../components/Progress";
import { StatusBadge } from "../components/StatusBadge";
import { ErrorNotice } from "../errors";
import { onAccountEvent } from "../events";
import { formatTime } from "../format";
import type { Campaign } from "../types";

/**
 * Every read spends the token's autocall budget (120 a minute by default): the list is read up
 * to 500 campaigns, and rows (each reads its campaign for its counters) are shown 25 at a time.
 */
const MAX_PAGES = 5;
const ROWS = 25;

export function CampaignsPage() {
	const [campaigns, setCampaigns] = useState<Campaign[]>();
	const [more, setMore] = useState(false);
	const [shown, setShown] = useState(ROWS);
	const [error, setError] = useState<unknown>();

	useEffect(() => {
		const load = () =>
			getAll<Campaign>("/api/autocall/campaigns", MAX_PAGES).then(({ items, complete }) => {
				setCampaigns(items);
				setMore(!complete);
			}, setError);
		void load();
		// A campaign created elsewhere (the API, another tab) shows up when it first reports.
		return onAccountEvent((event) => {
			if (event.type === "campaign.activated") void load();
		});
	}, []);

	return (
		<section>
			<div class="heading">
				<h1>Campaigns</h1>
				<Link to="/campaigns/new">New campaign</Link>
			</div>
			<ErrorNotice error={error} />
			{campaigns === undefined ? (
				<p aria-busy="true">Loading…</p>
			) : campaigns.length === 0 ? (
				<p>
					No campaigns yet. <Link to="/campaigns/new">Start one</Link>, or create one through the API (
					<code>POST /api/autocall/campaigns</code>).
				</p>
			) : (
				<table>
					<caption class="sr-only">Campaigns with their status and progress</caption>
					<thead>
						<tr>
							<th scope="col">Name</th>
							<th scope="col">Status</th>
							<th scope="col">Progress (contacts done or skipped)</th>
							<th scope="col">In flight / cap</th>
							<th scope="col">Created</th>
						</tr>
					</thead>
					<tbody>
						{[...campaigns]
							.reverse()
							.slice(0, shown)
							.map((campaign, index) => (
								<CampaignRow key={campaign.id} listed={campaign} index={index} />
							))}
					</tbody>
				</table>
			)}
			{campaigns && campaigns.length > shown && (
				<button type="button" class="secondary" onClick={() => setShown(shown + ROWS)}>
					Show {Math.min(ROWS, campaigns.length - shown)} more
				</button>
			)}
			{more && <p class="muted">Only the account's first 500 campaigns are listed here.</p>}
		</section>
	);
}

/** A row is read again at most this often: many rows share the token's autocall budget. */
const ROW_GAP_MS = 10_000;
/** The rows' first reads start this far apart, top row first, rather than all at once. */
const ROW_STAGGER_MS = 150;

/**
 * One row, live: the list has no counters, so each row reads its campaign and follows its events
 * (no timer). Its reads are background reads of the autocall budget (api.ts): a few at a time,
 * and none while the window is down to the requests kept for pause and cancel.
 */
function CampaignRow({ listed, index }: { listed: Campaign; index: number }) {
	const { loaded, error } = useLiveCampaign(listed.id, {
		gapMs: ROW_GAP_MS,
		poll: false,
		firstReadMs: index * ROW_STAGGER_MS,
	});
	const campaign = loaded?.campaign ?? listed;
	const live = campaign.live;
	return (
		<tr data-campaign={campaign.id}>
			<td>
				<Link to={`/campaigns/${campaign.id}`}>{campaign.name}</Link>
			</td>
			<td>
				<StatusBadge status={campaign.status} />
			</td>
			<td>
				{live ? (
					<Progress done={settled(live)} total={live.contacts.total} label={`${campaign.name}: contacts done or skipped`} />
				) : error ? (
					<span class="muted">unavailable</span>
				) : (
					"…"
				)}
			</td>
			<td>{live ? `${live.in_flight} / ${campaign.max_concurrent_calls}` : "…"}</td>
			<td>{formatTime(campaign.created_at)}</td>
		</tr>
	);
}
