import type { ComponentChildren } from "preact";
import { BASE, navigate } from "../router";

/** An ordinary link (it opens in a new tab, it is focusable), navigated in place on a plain click. */
export function Link({ to, children, current }: { to: string; children: ComponentChildren; current?: boolean }) {
	return (
		<a
			href={`${BASE}${to}`}
			aria-current={current ? "page" : undefined}
			onClick={(event) => {
				if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
					return;
				event.preventDefault();
				navigate(to);
			}}
		>
			{children}
		</a>
	);
}
