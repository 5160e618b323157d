import type { Advice } from '../contract/advice';

const IN_WORKER_CPU_FIX =
  'It already runs in a worker thread, off the main loop; while it computes, this worker runs nothing else, so the tasks or requests queued on it wait. ' +
  'Split it into smaller tasks, give the pool more threads if the host has the cores, or give this task type a pool of its own so quick tasks do not queue behind it.';

/**
 * Advice for a stall on a worker thread's loop. "Move it to a worker pool" is
 * what the code did already: computing there is the pool's job, and the cost
 * is the work queued behind it on that worker. Other advice (an async API
 * for a sync call) holds on any thread.
 */
export function inWorkerAdvice(advice: Advice | null): Advice | null {
  if (advice === null || advice.kind !== 'cpu') return advice;
  return { ...advice, fix: IN_WORKER_CPU_FIX };
}
