import { readFileSync } from 'node:fs';

/**
 * On a busy machine the kernel can take the CPU away from the main thread for
 * longer than the capture delay. The heartbeat then looks stale although no
 * JavaScript holds the loop, and a pause would land in whatever runs next —
 * blaming an innocent callback. Linux's per-thread schedstat tells the two
 * apart: time on the CPU versus time waiting in the run queue.
 */
export interface SchedSample {
  /** Nanoseconds on a CPU. */
  runNs: number;
  /** Nanoseconds runnable but waiting for a CPU. */
  waitNs: number;
  /** When read (epoch ms). */
  atMs: number;
}

/** Reads /proc/self/task/<tid>/schedstat; undefined where it does not exist (not Linux, no procfs). */
export function readSchedstat(tid: number): SchedSample | undefined {
  try {
    const [run, wait] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'latin1').split(' ');
    const runNs = Number(run);
    const waitNs = Number(wait);
    return Number.isFinite(runNs) && Number.isFinite(waitNs) ? { runNs, waitNs, atMs: performance.timeOrigin + performance.now() } : undefined;
  } catch {
    return undefined;
  }
}

/** Below this share of the elapsed time on a CPU, a thread that waited more than it ran is taken as descheduled. */
const RAN_SHARE_OF_BLOCKED_CODE = 0.1;

/**
 * True when, between two samples, the thread waited for a CPU more than it
 * ran *and* hardly ran at all: a stale heartbeat then means preemption, not
 * blocking code. Blocking code on a loaded machine still gets its fair share
 * of a CPU (a quarter at load 8 on 2 cores), and a thread asleep in a native
 * call neither runs nor waits; neither counts as preempted. Unknown (no
 * samples) counts as not preempted, so captures go ahead.
 */
export function mostlyPreempted(before: SchedSample | undefined, after: SchedSample | undefined): boolean {
  if (before === undefined || after === undefined) return false;
  const ran = after.runNs - before.runNs;
  const waited = after.waitNs - before.waitNs;
  const elapsedNs = (after.atMs - before.atMs) * 1e6;
  return waited > ran && ran < RAN_SHARE_OF_BLOCKED_CODE * elapsedNs;
}
