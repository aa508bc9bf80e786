/** Query values: arrays repeat the parameter; undefined leaves it out. */
export type QueryValue = string | number | boolean | null | undefined | readonly (string | number | boolean)[];

/**
 * The URL of `template` ("/api/pbx/extensions/{extension}") under `baseUrl`, each `{name}`
 * replaced by its percent-encoded parameter. A parameter the template names but `params`
 * lacks is a TypeError, never the literal "{name}" or "undefined" in a path.
 */
export function buildUrl(
	baseUrl: string,
	template: string,
	params: Record<string, string | number> | undefined,
	query: Record<string, QueryValue> | undefined,
): string {
	const path = template.replace(/\{(\w+)\}/g, (_, name: string) => {
		const value = params?.[name];
		if (value === undefined || value === "") throw new TypeError(`${template} needs the path parameter "${name}"`);
		return encodeURIComponent(String(value));
	});
	const url = new URL(path.replace(/^\//, ""), baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`);
	for (const [name, value] of Object.entries(query ?? {})) {
		if (value === undefined || value === null) continue;
		for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(name, String(item));
	}
	return url.toString();
}
