/**
 * A worker thread's guard: one per thread, joined to the process's one
 * watchdog through the main thread's guard (core/thread-link.ts,
 * collectors/threads.ts). The main thread's guard exports every thread's
 * series, so a thread's guard registers no exporter of its own.
 */
import { isMainThread, setThreadName, threadName } from './core/thread-name';
import { createLoopGuard, type LoopGuard } from './create-guard';
import { kThreadGuard } from './contract/symbols';
import type { LoopGuardOptions } from './options';

export interface WatchThisThreadOptions extends LoopGuardOptions {
  /**
   * This thread's `thread` label. Default: the worker's name
   * (`new Worker(file, { name })`, readable from Node 22), else `worker-<threadId>`.
   */
  name?: string;
}

type ThreadRegistry = { [kThreadGuard]?: LoopGuard };

/** The guard watching this worker thread, if one does (undefined on the main thread). */
export function threadGuard(): LoopGuard | undefined {
  if (isMainThread) return undefined;
  const guard = (globalThis as ThreadRegistry)[kThreadGuard];
  return guard !== undefined && !guard.isClosed ? guard : undefined;
}

/**
 * Watches this worker thread's event loop: its stalls (with culprit, stack
 * and advice), loop delay and ELU reach the main thread's guard under this
 * thread's label. The adapters used in this thread share this guard. On the
 * main thread it does nothing and returns undefined: a guard there watches it.
 * Called again with options, it replaces the thread's guard with one that has them.
 */
export function watchThisThread(options?: WatchThisThreadOptions): LoopGuard | undefined {
  if (isMainThread) return undefined;
  const current = threadGuard();
  if (current !== undefined && options === undefined) return current;
  const { name, ...rest } = options ?? {};
  if (name !== undefined) setThreadName(name);
  else setThreadName(threadName());
  current?.close();
  const guard = createLoopGuard({ prometheus: false, otel: false, ...rest });
  (globalThis as ThreadRegistry)[kThreadGuard] = guard;
  return guard;
}
