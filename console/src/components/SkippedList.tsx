import { formatTime } from "../format";
import { type SkippedContact, skipReason } from "../skipped";

/**
 * The latest contacts the contact policy skipped, with why: from `contact.skipped` events this
 * tab heard and the campaign's calls the policy refused. A skip before this tab signed in, of a
 * contact that had no call (an unknown zone), is only in the counter: the list says how many.
 */
export function SkippedList({ skipped, total }: { skipped: SkippedContact[]; total: number }) {
	const unseen = Math.max(0, total - skipped.length);
	return (
		<section aria-labelledby="skipped-heading">
			<h2 id="skipped-heading">Skipped contacts</h2>
			{skipped.length > 0 && (
				<table data-testid="skipped-list">
					<caption class="sr-only">Contacts skipped by the contact policy, latest first</caption>
					<thead>
						<tr>
							<th scope="col">Number</th>
							<th scope="col">Why</th>
							<th scope="col">When</th>
						</tr>
					</thead>
					<tbody>
						{skipped.map((contact) => (
							<tr key={contact.contactId} data-reason={contact.reason}>
								<td>{contact.phone}</td>
								<td>{skipReason(contact.reason)}</td>
								<td>{Number.isFinite(contact.at) ? formatTime(new Date(contact.at).toISOString()) : "—"}</td>
							</tr>
						))}
					</tbody>
				</table>
			)}
			<p class="muted">
				{unseen > 0 && `${unseen} more counted but not listed (older, or skipped before this tab was listening). `}
				Each skip is a <code>contact.skipped</code> event on the stream and to webhooks, with the number and the reason.
			</p>
		</section>
	);
}
