// The bench server's workerd processes and their CPU time, read from /proc (Linux).
import { readdirSync, readFileSync } from "node:fs";

/**
 * The bench server's workerd processes (descendants of this process): the Worker, its Durable
 * Objects and local D1 all run in one of them, on one thread, so its CPU time is the import's
 * work whatever else the machine is doing.
 */
export function workerdProcesses(parent = process.pid) {
	const found = [];
	for (const entry of readdirSync("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
			if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) !== parent) continue;
			if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === "workerd") found.push(Number(entry));
			found.push(...workerdProcesses(Number(entry)));
		} catch {
			// The process ended while we looked.
		}
	}
	return found;
}

export const cpuSeconds = (pid) => {
	const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
	const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
	return (Number(fields[11]) + Number(fields[12])) / 100;
};

/** The workerd processes' CPU seconds while `work` runs (they run nothing else meanwhile). */
export async function workerdCpu(work) {
	const pids = workerdProcesses();
	const total = () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
	const before = total();
	const result = await work();
	return { result, cpu: total() - before };
}
