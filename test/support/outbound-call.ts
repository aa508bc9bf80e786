import type { OutboundCall } from "../../workers/dialer/dialer";

/** A dial request as the pacer or the dispatcher makes one; tests name only what they look at. */
export const outboundCall = (call: Partial<OutboundCall> = {}): OutboundCall => ({
	callId: crypto.randomUUID(),
	accountId: "a",
	campaignId: null,
	to: "+84987654321",
	callerId: null,
	agentId: null,
	agentLeg: null,
	machineDetection: false,
	firstAskedAt: null,
	...call,
});
