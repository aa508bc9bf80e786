// GSM 03.38 basic set (and its extension table, which costs two septets).
const GSM_BASIC =
	"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENDED = "^{}\\[~]|€\f";

/** How many SMS parts a text costs: GSM-7 160 (153 per part when split), else UCS-2 70 (67). */
export function smsSegments(text: string): number {
	let septets = 0;
	for (const char of text) {
		if (GSM_BASIC.includes(char)) septets += 1;
		else if (GSM_EXTENDED.includes(char)) septets += 2;
		else return segmentsOf([...text].length, 70, 67);
	}
	return segmentsOf(septets, 160, 153);
}

const segmentsOf = (units: number, single: number, part: number) => (units <= single ? 1 : Math.ceil(units / part));
