import { ApiError } from "./api";

/** What to tell the operator about a failure: one place, so every page says it the same way. */
export interface Problem {
	title: string;
	detail: string;
	fields: [string, string[]][];
	status: number;
}

export function describeError(error: unknown): Problem {
	if (error instanceof ApiError) {
		const fields = Object.entries(error.fields);
		const title =
			error.status === 0
				? "No answer from the server"
				: error.status === 412
					? "Changed since you loaded it (412)"
					: error.status === 429
						? `Rate limited (429)${error.retryAfterSeconds ? `: retry in ${error.retryAfterSeconds} s` : ""}`
						: error.status === 401
							? "Signed out (401)"
							: `The API refused this (${error.status})`;
		return { title, detail: error.message, fields, status: error.status };
	}
	// A bug in the console itself: say so plainly, keep the details for the browser's console.
	console.error(error);
	return {
		title: "Something went wrong in the console",
		detail: String(error instanceof Error ? error.message : error),
		fields: [],
		status: -1,
	};
}

export function ErrorNotice({ error, children }: { error: unknown; children?: preact.ComponentChildren }) {
	if (!error) return null;
	const problem = describeError(error);
	return (
		<div class="notice notice-error" role="alert">
			<p class="notice-title">{problem.title}</p>
			<p>{problem.detail}</p>
			{problem.fields.length > 0 && (
				<ul>
					{problem.fields.map(([field, messages]) => (
						<li key={field}>
							<code>{field}</code>: {messages.join(" ")}
						</li>
					))}
				</ul>
			)}
			{children}
		</div>
	);
}
