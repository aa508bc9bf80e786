import { useEffect, useState } from "preact/hooks";
import { ApiError, get } from "./api";
import { type PolicyState, unknownBecause } from "./contact-policy";
import type { ContactPolicy } from "./types";

/** One read a minute: a PUT reaches running campaigns at once, and the account group allows 30 a minute. */
const REFRESH_MS = 60_000;

/** The account's contact policy (`GET /api/account/contact-policy`), read on mount and once a minute. */
export function useContactPolicy(): PolicyState {
	const [policy, setPolicy] = useState<PolicyState>({ state: "loading" });
	useEffect(() => {
		let live = true;
		const load = () =>
			get<ContactPolicy>("/api/account/contact-policy").then(
				({ body }) => live && setPolicy({ state: "loaded", policy: body }),
				// A policy read before stays shown: it is at most a minute old, and more use than "unknown".
				(error: unknown) =>
					live &&
					setPolicy((known) =>
						known.state === "loaded"
							? known
							: { state: "unknown", why: unknownBecause(error instanceof ApiError ? error.status : undefined) },
					),
			);
		void load();
		const timer = setInterval(load, REFRESH_MS);
		return () => {
			live = false;
			clearInterval(timer);
		};
	}, []);
	return policy;
}
