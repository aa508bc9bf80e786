import { useRef, useState } from "preact/hooks";
import { newIdempotencyKey, request } from "../api";
import { Link } from "../components/Link";
import { ErrorNotice } from "../errors";
import { phonesFrom } from "../phones";
import { navigate } from "../router";
import type { Campaign } from "../types";

const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

/**
 * A campaign from the console: the seed's payload with a window open now by default (all day,
 * every day, in the browser's zone), so a new operator sees it dial at once.
 */
export function NewCampaignPage() {
	const [form, setForm] = useState({
		name: "",
		phones: "",
		agent_id: crypto.randomUUID(),
		max_concurrent_calls: 2,
		max_calls_per_day: "",
		timezone: browserZone,
		start_time: "00:00",
		end_time: "23:59",
	});
	const [error, setError] = useState<unknown>();
	const [busy, setBusy] = useState(false);
	// One key per filled-in form: pressing Create again after a lost answer cannot make a second campaign.
	const key = useRef(newIdempotencyKey());

	const set = (field: keyof typeof form) => (event: { currentTarget: HTMLInputElement | HTMLTextAreaElement }) => {
		key.current = newIdempotencyKey();
		setForm({ ...form, [field]: event.currentTarget.value });
	};

	const submit = async () => {
		setBusy(true);
		setError(undefined);
		try {
			const { body } = await request<Campaign>("POST", "/api/autocall/campaigns", {
				idempotencyKey: key.current,
				body: {
					name: form.name,
					agent_id: form.agent_id,
					contact_source: "inline",
					contacts: phonesFrom(form.phones),
					schedule_type: "immediate",
					timezone: form.timezone,
					start_time: form.start_time,
					end_time: form.end_time,
					working_days: [1, 2, 3, 4, 5, 6, 7],
					max_concurrent_calls: Number(form.max_concurrent_calls),
					max_calls_per_day: form.max_calls_per_day === "" ? null : Number(form.max_calls_per_day),
				},
			});
			navigate(`/campaigns/${body.id}`);
		} catch (failure) {
			setError(failure);
		} finally {
			setBusy(false);
		}
	};

	return (
		<section>
			<p>
				<Link to="/campaigns">← Campaigns</Link>
			</p>
			<h1>New campaign</h1>
			<p>
				It dials every day between the window's start and end in its time zone. Locally the simulated dialer ends each call after
				a few seconds, with the outcome set by the number's last digit (0–6 answered, 7 no answer, 8 busy, 9 failed).
			</p>
			<ErrorNotice error={error} />
			<form
				class="card"
				aria-label="New campaign"
				onSubmit={(event) => {
					event.preventDefault();
					void submit();
				}}
			>
				<div class="grid">
					<label>
						Name
						<input name="name" required value={form.name} onInput={set("name")} />
					</label>
					<label>
						Agent id (your agent platform's agent)
						<input name="agent_id" required value={form.agent_id} onInput={set("agent_id")} />
					</label>
					<label>
						Max concurrent calls
						<input
							name="max_concurrent_calls"
							type="number"
							min={1}
							max={100}
							required
							value={form.max_concurrent_calls}
							onInput={set("max_concurrent_calls")}
						/>
					</label>
					<label>
						Max calls per day (empty: no cap)
						<input
							name="max_calls_per_day"
							type="number"
							min={1}
							value={form.max_calls_per_day}
							onInput={set("max_calls_per_day")}
						/>
					</label>
					<label>
						Window start
						<input name="start_time" type="time" required value={form.start_time} onInput={set("start_time")} />
					</label>
					<label>
						Window end
						<input name="end_time" type="time" required value={form.end_time} onInput={set("end_time")} />
					</label>
					<label>
						Time zone (IANA)
						<input name="timezone" required value={form.timezone} onInput={set("timezone")} />
					</label>
				</div>
				<label>
					Phone numbers, one per line (read in the account's region)
					<textarea name="phones" rows={6} required value={form.phones} onInput={set("phones")} />
				</label>
				<button type="submit" disabled={busy}>
					{busy ? "Creating…" : "Create and start"}
				</button>
			</form>
		</section>
	);
}
