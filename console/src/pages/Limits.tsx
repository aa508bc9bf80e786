import { useEffect, useState } from "preact/hooks";
import { get, onRateReading, rateReadings } from "../api";
import { ErrorNotice } from "../errors";
import { formatRelative } from "../format";
import type { TokenLimits } from "../types";

/** Every read counts one request in the token's auth group (30 a minute by default). */
const REFRESH_MS = 10_000;

/**
 * The token's limits: every group's window and the connections in flight from
 * GET /api/auth/limits, beside what the rate-limit headers of this console's own latest
 * responses said per group.
 */
export function LimitsPage() {
	const [limits, setLimits] = useState<TokenLimits>();
	const [error, setError] = useState<unknown>();
	const [, setHeard] = useState(0);
	const [now, setNow] = useState(Date.now());

	useEffect(() => {
		const load = () =>
			get<TokenLimits>("/api/auth/limits").then(({ body }) => {
				setLimits(body);
				setNow(Date.now());
				setError(undefined);
			}, setError);
		void load();
		const refresh = setInterval(load, REFRESH_MS);
		const tick = setInterval(() => setNow(Date.now()), 1_000);
		const off = onRateReading(() => setHeard((n) => n + 1));
		return () => {
			clearInterval(refresh);
			clearInterval(tick);
			off();
		};
	}, []);

	return (
		<section>
			<h1>Limits</h1>
			<p>
				This token's rate-limit windows (60 s, sliding) and connection slots. Read every {REFRESH_MS / 1000} s from{" "}
				<code>GET /api/auth/limits</code>, which counts one request in the auth group and nothing in the others.
			</p>
			<ErrorNotice error={error} />
			{limits && (
				<>
					<h2>Connections in flight</h2>
					<p data-testid="connections">
						<meter
							min={0}
							max={limits.connections.limit}
							value={limits.connections.in_flight}
							aria-label="Connections in flight"
						/>{" "}
						<strong>{limits.connections.in_flight}</strong> of {limits.connections.limit} (this console's event stream and the
						read itself included)
					</p>
					<h2>Rate-limit groups</h2>
					<table data-testid="limits">
						<caption class="sr-only">Rate-limit groups of this token</caption>
						<thead>
							<tr>
								<th scope="col">Group</th>
								<th scope="col">Remaining / limit</th>
								<th scope="col">Back to full</th>
								<th scope="col">Retry after</th>
								<th scope="col">Last response headers</th>
							</tr>
						</thead>
						<tbody>
							{limits.groups.map((group) => {
								const heard = rateReadings.get(group.group);
								const reset = Date.parse(group.reset_at);
								return (
									<tr key={group.group} data-group={group.group}>
										<th scope="row">{group.group}</th>
										<td>
											<meter
												min={0}
												max={group.limit}
												value={group.remaining}
												low={group.limit * 0.2}
												optimum={group.limit}
												aria-label={`${group.group} remaining`}
											/>{" "}
											{group.remaining} / {group.limit}
										</td>
										<td>{group.remaining === group.limit || reset <= now ? "full" : formatRelative(reset, now)}</td>
										<td>{group.retry_after_seconds === null ? "—" : `${group.retry_after_seconds} s`}</td>
										<td>
											{heard
												? `${heard.remaining} / ${heard.limit}, resets ${formatRelative(heard.resetAt, now)} (seen ${formatRelative(heard.seenAt, now)})`
												: "—"}
										</td>
									</tr>
								);
							})}
						</tbody>
					</table>
				</>
			)}
		</section>
	);
}
