/** Numbers one per line, or separated by commas or semicolons, as an operator pastes them. */
export const phonesFrom = (text: string) =>
	text
		.split(/[\n,;]+/)
		.map((phone) => phone.trim())
		.filter(Boolean);
