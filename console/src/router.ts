import { useEffect, useState } from "preact/hooks";

/** The console lives under /console; its pages are paths below it (the Worker serves the app for any of them). */
export const BASE = "/console";

const listeners = new Set<() => void>();
const notify = () => {
	for (const listener of listeners) listener();
};
window.addEventListener("popstate", notify);

/** The path below /console: "/", "/campaigns/<id>", … */
export function currentRoute(): string {
	const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname;
	return path === "" ? "/" : path.replace(/\/+$/, "") || "/";
}

export function navigate(route: string, options: { replace?: boolean } = {}): void {
	const url = `${BASE}${route === "/" ? "/" : route}`;
	if (options.replace) history.replaceState(null, "", url);
	else history.pushState(null, "", url);
	notify();
}

export function useRoute(): { route: string; query: URLSearchParams } {
	const [, setTick] = useState(0);
	useEffect(() => {
		const listener = () => setTick((n) => n + 1);
		listeners.add(listener);
		return () => listeners.delete(listener);
	}, []);
	return { route: currentRoute(), query: new URLSearchParams(location.search) };
}

export { match } from "./routes";
