import { useEffect, useState } from "preact/hooks";
import { useCampaignCalls } from "../campaign-calls";
import { extraLiveFields, idleReasons, settled } from "../campaign-state";
import { campaignWindowOpen } from "../campaign-window";
import { FINAL, useLiveCampaign } from "../campaigns";
import type { CapsSeen } from "../chart-data";
import { CampaignActions } from "../components/CampaignActions";
import { CampaignChart } from "../components/CampaignChart";
import { Link } from "../components/Link";
import { PacingForm } from "../components/PacingForm";
import { Progress } from "../components/Progress";
import { SkippedList } from "../components/SkippedList";
import { StatusBadge } from "../components/StatusBadge";
import { describeAttemptCap, describeRecipientHours, type PolicyState, recipientHoursNow } from "../contact-policy";
import { ErrorNotice } from "../errors";
import { formatTime } from "../format";
import { useHeardSkips } from "../heard-skips";
import { latestSkipped } from "../skipped";
import type { Campaign } from "../types";
import { useContactPolicy } from "../use-contact-policy";

const DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
/** The skipped contacts listed by name: the latest few, the counter has them all. */
const SKIPPED_SHOWN = 10;

/** Each change of the caps the page sees, with when: the chart draws the cap that was in force. */
function useCapsSeen(campaign: Campaign | undefined): CapsSeen[] {
	const [history, setHistory] = useState<CapsSeen[]>([]);
	const concurrent = campaign?.max_concurrent_calls;
	const daily = campaign?.max_calls_per_day;
	useEffect(() => {
		if (concurrent === undefined || daily === undefined) return;
		setHistory((seen) => {
			const last = seen.at(-1);
			if (last && last.concurrent === concurrent && last.daily === daily) return seen;
			// The first reading stands for the whole history before it: the API keeps none.
			return [...seen, { at: last ? Date.now() : 0, concurrent, daily }];
		});
	}, [concurrent, daily]);
	return history;
}

export function CampaignPage({ id }: { id: string }) {
	const { loaded, error, set } = useLiveCampaign(id);
	const campaign = loaded?.campaign;
	const final = campaign ? FINAL.has(campaign.status) : false;
	const calls = useCampaignCalls(id, final);
	const caps = useCapsSeen(campaign);
	const policy = useContactPolicy();
	const heardSkips = useHeardSkips();

	if (!campaign) {
		return (
			<section>
				<p>
					<Link to="/campaigns">← Campaigns</Link>
				</p>
				{error ? <ErrorNotice error={error} /> : <p aria-busy="true">Loading…</p>}
			</section>
		);
	}
	const live = campaign.live;
	// Read at each render: the campaign is read again at least every 15 s while it runs.
	const campaignOpen = campaignWindowOpen(campaign, Date.now());
	const recipientHours = policy.state === "loaded" ? (policy.policy.recipient_hours ? "on" : "off") : ("unknown" as const);
	const reasons = idleReasons(campaign, (iso) => formatTime(iso), { campaignOpen, recipientHours });
	const skipped = latestSkipped([calls.skipped, heardSkips], campaign.id, SKIPPED_SHOWN);
	return (
		<section>
			<p>
				<Link to="/campaigns">← Campaigns</Link>
			</p>
			<div class="heading">
				<h1>{campaign.name}</h1>
				<span data-testid="status">
					<StatusBadge status={campaign.status} />
				</span>
			</div>
			<ErrorNotice error={error} />
			<CampaignActions campaign={campaign} onDone={set} />
			{reasons.length > 0 && (
				<div class="notice notice-info" data-testid="idle">
					<p class="notice-title">Not dialling now</p>
					<ul>
						{reasons.map((reason) => (
							<li key={reason}>{reason}</li>
						))}
					</ul>
				</div>
			)}
			{live && <Counters campaign={campaign} />}
			{live && (live.contacts.skipped > 0 || skipped.length > 0) && (
				<SkippedList skipped={skipped} total={live.contacts.skipped} />
			)}
			<h2>Calls in flight and per hour</h2>
			<ErrorNotice error={calls.error} />
			<CampaignChart spans={calls.spans} caps={caps} final={final} callsToday={live?.calls_today} />
			{!calls.complete && <p class="muted">The chart shows the campaign's first 2,000 calls and those heard live since.</p>}
			<p>
				<Link to={`/calls?campaign=${campaign.id}`}>This campaign's calls</Link>
			</p>
			<State campaign={campaign} policy={policy} campaignOpen={campaignOpen} />
			{!final && loaded && <PacingForm loaded={loaded} onSaved={set} />}
		</section>
	);
}

function Counters({ campaign }: { campaign: Campaign }) {
	const live = campaign.live;
	if (!live) return null;
	const cap = campaign.max_calls_per_day;
	return (
		<dl class="counters" aria-label="Live counters">
			<div class="wide">
				<dt>Progress (done or skipped)</dt>
				<dd data-testid="progress">
					<Progress done={settled(live)} total={live.contacts.total} label="Contacts done or skipped" />
				</dd>
			</div>
			<div>
				<dt>Done</dt>
				<dd data-testid="done">{live.contacts.done}</dd>
			</div>
			<div>
				<dt>Skipped</dt>
				<dd data-testid="skipped">
					{live.contacts.skipped}
					<span class="hint">
						{live.contacts.skipped > 0 ? (
							<a href="#skipped-heading">why: do-not-call, attempt cap, unknown zone</a>
						) : (
							"by the contact policy: do-not-call, attempt cap, unknown zone"
						)}
					</span>
				</dd>
			</div>
			<div>
				<dt>Pending</dt>
				<dd data-testid="pending">{live.contacts.pending}</dd>
			</div>
			<div>
				<dt>In flight / cap</dt>
				<dd data-testid="in-flight">
					{live.in_flight} / {campaign.max_concurrent_calls}
				</dd>
			</div>
			<div>
				<dt>Calls today / daily cap</dt>
				<dd data-testid="calls-today">
					{live.calls_today} / {cap ?? "no cap"}
				</dd>
			</div>
		</dl>
	);
}

interface StateProps {
	campaign: Campaign;
	policy: PolicyState;
	campaignOpen: boolean | undefined;
}

function State({ campaign, policy, campaignOpen }: StateProps) {
	const live = campaign.live;
	const extra = extraLiveFields(live);
	const days = campaign.working_days.map((day) => DAY_NAMES[day - 1]).join(", ");
	const hoursNow = recipientHoursNow(policy, campaignOpen, live);
	const attemptCap = policy.state === "loaded" ? describeAttemptCap(policy.policy) : null;
	return (
		<div class="panels">
			<section class="card wide" aria-labelledby="window-heading">
				<h2 id="window-heading">Calling window</h2>
				<dl>
					<dt>State</dt>
					<dd data-testid="window">{live ? (live.window_open ? "Open" : "Closed") : "—"}</dd>
					<dt>Next opening</dt>
					<dd>{live?.next_opening_at ? formatTime(live.next_opening_at) : live?.window_open ? "Open now" : "—"}</dd>
					<dt>Campaign hours</dt>
					<dd data-testid="campaign-hours">
						{campaign.start_time}–{campaign.end_time} {campaign.timezone}, {days}
						{campaignOpen !== undefined && <span class="hint">{campaignOpen ? "open now" : "closed now"}</span>}
					</dd>
					<dt>Recipient hours</dt>
					<dd data-testid="recipient-hours">
						{policy.state === "loaded" ? describeRecipientHours(policy.policy) : policy.state === "loading" ? "…" : policy.why}
						{hoursNow && <span class="hint">Now: {hoursNow}</span>}
					</dd>
					{attemptCap && (
						<>
							<dt>Attempts per number</dt>
							<dd data-testid="attempt-cap">{attemptCap}</dd>
						</>
					)}
					{campaign.scheduled_at && (
						<>
							<dt>Starts</dt>
							<dd>{formatTime(campaign.scheduled_at)}</dd>
						</>
					)}
				</dl>
			</section>
			<section class="card" aria-labelledby="provider-heading">
				<h2 id="provider-heading">Dialer provider</h2>
				{live ? (
					<dl>
						<dt>State</dt>
						<dd data-testid="provider" class={live.provider.state === "unavailable" ? "bad" : undefined}>
							{live.provider.state === "available" ? "Available" : "Unavailable"}
						</dd>
						{live.provider.state === "unavailable" && (
							<>
								<dt>Since</dt>
								<dd>{formatTime(live.provider.since)}</dd>
								<dt>Next try</dt>
								<dd>{formatTime(live.provider.next_try_at)}</dd>
								<dt>Last error</dt>
								<dd>{live.provider.last_error ?? "—"}</dd>
							</>
						)}
					</dl>
				) : (
					<p>—</p>
				)}
			</section>
			{extra.length > 0 && (
				<section class="card" aria-labelledby="more-heading">
					<h2 id="more-heading">More state</h2>
					<dl data-testid="extra-state">
						{extra.map(([key, value]) => (
							<div key={key}>
								<dt>
									<code>{key}</code>
								</dt>
								<dd>{key.endsWith("_at") ? formatTime(value) : value}</dd>
							</div>
						))}
					</dl>
				</section>
			)}
		</div>
	);
}
