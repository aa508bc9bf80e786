import { useEffect, useState } from "preact/hooks";
import { getAll, request } from "../api";
import { ErrorNotice } from "../errors";
import { formatTime } from "../format";
import { navigate } from "../router";
import { switchToOwner } from "../session";
import type { Account, Me } from "../types";

/**
 * The platform admin's page: its own account runs no campaigns, so it creates customer
 * accounts here and, in one step, signs in as the new account's owner to run and watch them.
 */
export function AccountsPage({ me }: { me: Me }) {
	const admin = me.user.role === "platform_admin";
	const [accounts, setAccounts] = useState<Account[]>();
	const [error, setError] = useState<unknown>();
	const [form, setForm] = useState({ name: "", username: "", password: "", default_region: "US" });
	const [switchTo, setSwitchTo] = useState(true);
	const [busy, setBusy] = useState(false);
	const [created, setCreated] = useState<string>();

	useEffect(() => {
		if (!admin) return;
		getAll<Account>("/api/admin/accounts", 5).then((page) => setAccounts(page.items), setError);
	}, [admin]);

	if (!admin) return <p>Only the platform admin manages accounts.</p>;

	const set = (field: keyof typeof form) => (event: { currentTarget: HTMLInputElement }) =>
		setForm({ ...form, [field]: event.currentTarget.value });

	const submit = async () => {
		setBusy(true);
		setError(undefined);
		try {
			const { body } = await request<Account>("POST", "/api/admin/accounts", { body: form });
			setAccounts([...(accounts ?? []), body]);
			setCreated(body.name);
			// The owner's session replaces the admin's (revoked): the console follows the new token to its campaigns.
			if (switchTo) {
				await switchToOwner(form.username, form.password, me);
				navigate("/campaigns");
			}
		} catch (failure) {
			setError(failure);
		} finally {
			setBusy(false);
		}
	};

	return (
		<section>
			<h1>Customer accounts</h1>
			<p>
				You are signed in as the platform admin. Campaigns, calls and webhooks belong to customer accounts: create one, then sign
				in as its owner to run and watch its campaigns.
			</p>
			<ErrorNotice error={error} />
			{created && (
				<p class="notice notice-ok" role="status">
					Created {created}.
				</p>
			)}
			<form
				class="card"
				aria-label="Create a customer account"
				onSubmit={(event) => {
					event.preventDefault();
					void submit();
				}}
			>
				<h2>Create a customer account</h2>
				<div class="grid">
					<label>
						Account name
						<input name="name" required value={form.name} onInput={set("name")} />
					</label>
					<label>
						Owner's username
						<input name="username" required minLength={3} autoComplete="off" value={form.username} onInput={set("username")} />
					</label>
					<label>
						Owner's password (10 characters or more)
						<input
							name="new-password"
							type="password"
							required
							minLength={10}
							autoComplete="new-password"
							value={form.password}
							onInput={set("password")}
						/>
					</label>
					<label>
						Default region (numbers are read in it)
						<input name="region" required maxLength={2} value={form.default_region} onInput={set("default_region")} />
					</label>
				</div>
				<label class="inline">
					<input type="checkbox" checked={switchTo} onChange={(e) => setSwitchTo(e.currentTarget.checked)} />
					Sign in as its owner once created (this ends the admin's session)
				</label>
				<button type="submit" disabled={busy}>
					Create account
				</button>
			</form>
			<h2>Accounts</h2>
			{accounts === undefined ? (
				<p aria-busy="true">Loading…</p>
			) : accounts.length === 0 ? (
				<p>No customer accounts yet.</p>
			) : (
				<table>
					<thead>
						<tr>
							<th scope="col">Name</th>
							<th scope="col">Region</th>
							<th scope="col">Created</th>
						</tr>
					</thead>
					<tbody>
						{accounts.map((account) => (
							<tr key={account.id}>
								<td>{account.name}</td>
								<td>{account.default_region}</td>
								<td>{formatTime(account.created_at)}</td>
							</tr>
						))}
					</tbody>
				</table>
			)}
		</section>
	);
}
