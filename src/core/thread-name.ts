import * as workerThreads from 'node:worker_threads';

/** True on the process's main thread. */
export const isMainThread = workerThreads.isMainThread;

let given: string | undefined;

/**
 * This thread's name as `new Worker(file, { name })` set it: Node ≥ 22 tells
 * (`threadName`); on Node 20 only the name given to `watchThisThread({ name })`.
 */
export function threadName(): string | undefined {
  return given ?? (workerThreads as { threadName?: string }).threadName;
}

/** Names this thread for its `thread` label (before its guard starts). */
export function setThreadName(name: string | undefined): void {
  given = name;
}
