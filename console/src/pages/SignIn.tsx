import { useState } from "preact/hooks";
import { ErrorNotice } from "../errors";
import { signIn, signInWithToken } from "../session";

const local = ["127.0.0.1", "localhost", "[::1]"].includes(location.hostname);

export function SignInPage() {
	const [username, setUsername] = useState("");
	const [password, setPassword] = useState("");
	const [token, setToken] = useState("");
	const [busy, setBusy] = useState(false);
	const [error, setError] = useState<unknown>();

	const attempt = async (work: () => Promise<unknown>) => {
		setBusy(true);
		setError(undefined);
		try {
			await work();
		} catch (failure) {
			setError(failure);
		} finally {
			setBusy(false);
		}
	};

	return (
		<main id="main" class="signin">
			<h1>callgate console</h1>
			<p>Sign in to watch campaigns, calls, limits and webhooks.</p>
			<ErrorNotice error={error} />
			<form
				aria-label="Sign in"
				onSubmit={(event) => {
					event.preventDefault();
					void attempt(() => signIn(username, password));
				}}
			>
				<label>
					Username
					<input
						name="username"
						autoComplete="username"
						required
						value={username}
						onInput={(e) => setUsername(e.currentTarget.value)}
					/>
				</label>
				<label>
					Password
					<input
						name="password"
						type="password"
						autoComplete="current-password"
						required
						value={password}
						onInput={(e) => setPassword(e.currentTarget.value)}
					/>
				</label>
				<button type="submit" disabled={busy}>
					Sign in
				</button>
			</form>
			{local && (
				<p class="muted">
					Locally the platform admin is <code>admin</code> / <code>admin-password</code>: sign in with it to create a customer
					account, whose campaigns you then watch.
				</p>
			)}
			<details>
				<summary>Use a token instead</summary>
				<form
					aria-label="Use a token"
					onSubmit={(event) => {
						event.preventDefault();
						void attempt(() => signInWithToken(token));
					}}
				>
					<label>
						Bearer token (kept in this tab only)
						<input
							name="token"
							type="password"
							autoComplete="off"
							required
							value={token}
							onInput={(e) => setToken(e.currentTarget.value)}
						/>
					</label>
					<button type="submit" disabled={busy}>
						Use token
					</button>
				</form>
			</details>
		</main>
	);
}
