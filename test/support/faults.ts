import { env } from "cloudflare:workers";

/**
 * Fault injection for tests: make a chosen D1 statement or batch, Durable Object method,
 * queue send or any other method fail at the moment it is called. `throw` fails before the
 * step runs; `lose-answer` runs it (its effect commits) and then fails, as a lost response
 * or a crash right after the step would. Faults patch prototypes, so they reach every
 * binding in the test isolate (the Worker, its Durable Objects); `restoreFaults` undoes all.
 */
export type FaultMode = "throw" | "lose-answer";

export interface FaultOptions<Args extends unknown[] = unknown[]> {
	mode?: FaultMode;
	/** How many matching calls fail (default: every one until restored). */
	times?: number;
	/** Only calls whose arguments match fail. */
	when?: (...args: Args) => boolean;
}

export interface Fault {
	/** Matching calls seen so far (failed or not, once `times` ran out). */
	readonly hits: number;
	/** Calls that were failed. */
	readonly failed: number;
	restore(): void;
}

const restorers: (() => void)[] = [];

export class InjectedFault extends Error {
	constructor(what: string) {
		super(`injected fault: ${what}`);
		this.name = "InjectedFault";
	}
}

// biome-ignore lint/suspicious/noExplicitAny: patching arbitrary prototypes is what this helper is for.
type AnyFunction = (...args: any[]) => any;

/** Fails `target[method]` (an instance or a prototype) as `options` say. */
export function failMethod<T extends object, K extends keyof T & string>(
	target: T,
	method: K,
	options: FaultOptions<T[K] extends AnyFunction ? Parameters<T[K]> : unknown[]> = {},
): Fault {
	const original = target[method] as unknown as AnyFunction;
	const state = { hits: 0, failed: 0 };
	const mode = options.mode ?? "throw";
	const patched = function (this: unknown, ...args: unknown[]) {
		if (options.when && !(options.when as AnyFunction)(...args)) return original.apply(this, args);
		state.hits++;
		if (options.times !== undefined && state.failed >= options.times) return original.apply(this, args);
		state.failed++;
		if (mode === "throw") return Promise.reject(new InjectedFault(`${method} failed`));
		return Promise.resolve(original.apply(this, args)).then(() => {
			throw new InjectedFault(`${method} succeeded, answer lost`);
		});
	};
	(target as Record<string, unknown>)[method] = patched;
	const restore = () => {
		if ((target as Record<string, unknown>)[method] === patched) (target as Record<string, unknown>)[method] = original;
	};
	restorers.push(restore);
	return {
		get hits() {
			return state.hits;
		},
		get failed() {
			return state.failed;
		},
		restore,
	};
}

interface StatementLike {
	statement?: string;
}

const matches = (pattern: RegExp | string, sql: string | undefined) =>
	sql !== undefined && (typeof pattern === "string" ? sql.includes(pattern) : pattern.test(sql));

/**
 * Fails D1 statements whose SQL matches `sql`, run alone (`run`, `first`, `all`, `raw`) or
 * in a batch (the whole batch fails, as a transaction does).
 */
export function failD1(sql: RegExp | string, options: Omit<FaultOptions, "when"> = {}): Fault {
	const statementPrototype = Object.getPrototypeOf(env.DB.prepare("SELECT 1")) as Record<string, AnyFunction>;
	const databasePrototype = Object.getPrototypeOf(env.DB) as Record<string, AnyFunction>;
	const shared = { hits: 0, failed: 0 };
	const faults: Fault[] = [];
	const budget = () => options.times === undefined || shared.failed < options.times;
	const decide = (matched: boolean) => {
		if (!matched) return false;
		shared.hits++;
		if (!budget()) return false;
		shared.failed++;
		return true;
	};
	for (const name of ["run", "first", "all", "raw"]) {
		const original = statementPrototype[name] as AnyFunction;
		const patched = function (this: StatementLike, ...args: unknown[]) {
			return wrap(decide(matches(sql, this.statement)), options.mode, () => original.apply(this, args), name);
		};
		faults.push(swap(statementPrototype, name, original, patched));
	}
	const originalBatch = databasePrototype.batch as AnyFunction;
	const patchedBatch = function (this: unknown, statements: StatementLike[]) {
		const matched = statements.some((statement) => matches(sql, statement.statement));
		return wrap(decide(matched), options.mode, () => originalBatch.call(this, statements), "batch");
	};
	faults.push(swap(databasePrototype, "batch", originalBatch, patchedBatch));
	return {
		get hits() {
			return shared.hits;
		},
		get failed() {
			return shared.failed;
		},
		restore: () => {
			for (const fault of faults) fault.restore();
		},
	};
}

function wrap(fail: boolean, mode: FaultMode = "throw", run: () => unknown, what: string): Promise<unknown> {
	if (!fail) return Promise.resolve(run());
	if (mode === "throw") return Promise.reject(new InjectedFault(`D1 ${what} failed`));
	return Promise.resolve(run()).then(() => {
		throw new InjectedFault(`D1 ${what} committed, answer lost`);
	});
}

function swap(target: Record<string, AnyFunction>, name: string, original: AnyFunction, patched: AnyFunction): Fault {
	target[name] = patched;
	const restore = () => {
		if (target[name] === patched) target[name] = original;
	};
	restorers.push(restore);
	return { hits: 0, failed: 0, restore };
}

/** Fails queue sends (`send` and `sendBatch`) of every queue binding. */
export function failQueueSends(options: Omit<FaultOptions, "when"> = {}): Fault[] {
	const prototype = Object.getPrototypeOf(env.WEBHOOK_QUEUE) as Queue;
	return [failMethod(prototype, "send", options), failMethod(prototype, "sendBatch", options)];
}

/** Undoes every fault, newest first. Call it in `afterEach`. */
export function restoreFaults(): void {
	for (const restore of restorers.splice(0).reverse()) restore();
}
