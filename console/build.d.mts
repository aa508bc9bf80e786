/** Types of build.mjs, for vitest.config.ts. */
export function buildConsole(): Promise<{ path: string; raw: number; gzip: number }[]>;
