/**
 * Where the main thread's time went, read from the watchdog thread: on a CPU,
 * runnable but waiting for one, and how long the process's cgroup was
 * throttled. Read when a stall is detected and when it ends (and at the
 * watchdog's last look before it), never on the request path.
 *
 * Each file is opened once and re-read with a positioned read at 0: procfs
 * and cgroupfs regenerate the text on every read of the same descriptor, so
 * one `pread` replaces an open/read/close. A file that cannot be opened or
 * parsed is tried once and then reported as unavailable (`null` fields);
 * nothing here throws.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import {
  cpuStatCandidates,
  parseCgroupFile,
  parseCpuStatV1,
  parseCpuStatV2,
  parseSchedstat,
  parseTaskStat,
  type CpuThrottling,
} from './proc-stat-parse';
import type { ThreadTimeMeasurement } from '../contract/thread-time';

/** One reading of the clocks. Fields are null where the machine does not provide them. */
export interface ThreadClockSample {
  /** `performance.now()` of the reading thread when read: a monotonic ms clock. */
  atMs: number;
  onCpuNs: number | null;
  waitingNs: number | null;
  /** Times the thread was put on a CPU, cumulative. */
  timeslices: number | null;
  /** The thread's scheduler state letter (R, S, D, …) at the reading, from `stat`. */
  taskState: string | null;
  /** The cgroup's cumulative throttled time (all its CPUs summed) and throttled periods. */
  throttledNs: number | null;
  nrThrottled: number | null;
}

/**
 * The difference of two samples, per thread and stall: the measurement the
 * worker sends, without what only detection reads (the task state) and what
 * the clock knows of itself (the unavailable sources).
 */
export type ThreadTimeDelta = Omit<ThreadTimeMeasurement, 'taskState' | 'unavailable'>;

export interface ThreadClock {
  /**
   * One reading. `withTaskState: false` skips the thread's `stat` (the
   * largest file, only a hint at detection): the watchdog's reading in every
   * heartbeat window, a few a second even idle, does without it.
   */
  read(withTaskState?: boolean): ThreadClockSample;
  /** Which sources could not be read, for one line in the report or the log; empty when all could. */
  readonly unavailable: readonly string[];
  close(): void;
}

interface Source<T> {
  fd: number;
  parse: (text: string) => T | undefined;
}

/** Files worth a few hundred bytes; the largest (stat) is ~350. */
const BUFFER_BYTES = 1024;

export interface ThreadClockOptions {
  cgroupRoot?: string;
  procRoot?: string;
  /** Only the run-queue clock (schedstat): the loop budget reads it per request and needs nothing else. */
  schedstatOnly?: boolean;
}

/**
 * A clock for one thread of this process, Linux tid `tid` (the main thread's
 * tid is the pid), or `'self'`: the calling thread (`/proc/thread-self`).
 * Off Linux every field of every sample is null.
 */
export function openThreadClock(tid: number | 'self', options: ThreadClockOptions = {}): ThreadClock {
  const proc = options.procRoot ?? '/proc';
  const unavailable: string[] = [];
  const buffer = Buffer.alloc(BUFFER_BYTES);
  const sources: Source<unknown>[] = [];

  const open = <T>(file: string, parse: (text: string) => T | undefined, label: string | null): Source<T> | undefined => {
    let fd: number | undefined;
    try {
      fd = openSync(file, 'r');
      const source = { fd, parse };
      if (readWith(source, buffer) === undefined) throw new Error('unrecognised');
      sources.push(source as Source<unknown>);
      return source;
    } catch {
      if (fd !== undefined) safeClose(fd);
      if (label !== null) unavailable.push(label);
      return undefined;
    }
  };

  const task = tid === 'self' ? `${proc}/thread-self` : `${proc}/self/task/${tid}`;
  const schedstat = open(`${task}/schedstat`, parseSchedstat, 'schedstat');
  const stat = options.schedstatOnly ? undefined : open(`${task}/stat`, parseTaskStat, 'stat');
  const cgroup = options.schedstatOnly ? undefined : openCpuStat(proc, options.cgroupRoot, open);
  if (cgroup === undefined && !options.schedstatOnly) unavailable.push('cgroup cpu.stat');

  let closed = false;
  return {
    unavailable,
    read(withTaskState = true): ThreadClockSample {
      const atMs = performance.now();
      const sched = closed ? undefined : readWith(schedstat, buffer);
      const taskStat = closed || !withTaskState ? undefined : readWith(stat, buffer);
      const throttling = closed ? undefined : readWith(cgroup, buffer);
      return {
        atMs,
        onCpuNs: sched?.onCpuNs ?? null,
        waitingNs: sched?.waitingNs ?? null,
        timeslices: sched?.timeslices ?? null,
        taskState: taskStat?.state ?? null,
        throttledNs: throttling?.throttledNs ?? null,
        nrThrottled: throttling?.nrThrottled ?? null,
      };
    },
    close(): void {
      if (closed) return;
      closed = true;
      for (const s of sources) safeClose(s.fd);
    },
  };
}

type Opener = <T>(file: string, parse: (text: string) => T | undefined, label: string | null) => Source<T> | undefined;

function openCpuStat(proc: string, cgroupRoot: string | undefined, open: Opener): Source<CpuThrottling> | undefined {
  let text: string;
  try {
    text = readFileSync(`${proc}/self/cgroup`, 'latin1');
  } catch {
    return undefined;
  }
  const membership = parseCgroupFile(text);
  if (membership === undefined) return undefined;
  for (const candidate of cpuStatCandidates(membership, cgroupRoot)) {
    const source = open(candidate.file, candidate.version === 2 ? parseCpuStatV2 : parseCpuStatV1, null);
    if (source !== undefined) return source;
  }
  return undefined;
}

function readWith<T>(source: Source<T> | undefined, buffer: Buffer): T | undefined {
  if (source === undefined) return undefined;
  try {
    const length = readSync(source.fd, buffer, 0, buffer.length, 0);
    return source.parse(buffer.toString('latin1', 0, length));
  } catch {
    return undefined;
  }
}

function safeClose(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed or never valid: nothing is left to release.
  }
}

/** The time between two samples; a field is null unless both samples have it. */
export function threadTimeBetween(before: ThreadClockSample, after: ThreadClockSample): ThreadTimeDelta {
  const wallMs = Math.max(0, after.atMs - before.atMs);
  const onCpuMs = deltaMs(before.onCpuNs, after.onCpuNs);
  const waitingMs = deltaMs(before.waitingNs, after.waitingNs);
  const cgroupThrottledMs = deltaMs(before.throttledNs, after.throttledNs);
  const throttledMs = cgroupThrottledMs === null ? null : Math.min(cgroupThrottledMs, waitingMs ?? wallMs);
  const nrThrottled = before.nrThrottled === null || after.nrThrottled === null ? null : Math.max(0, after.nrThrottled - before.nrThrottled);
  const timeslices = before.timeslices == null || after.timeslices == null || after.timeslices < before.timeslices ? null : after.timeslices - before.timeslices;
  return { wallMs, onCpuMs, waitingMs, throttledMs, nrThrottled, cgroupThrottledMs: cgroupThrottledMs === null ? null : Math.min(cgroupThrottledMs, wallMs), timeslices };
}

function deltaMs(before: number | null, after: number | null): number | null {
  // A counter that went backwards (a cgroup recreated, a tid reused) is no measurement.
  if (before === null || after === null || after < before) return null;
  return (after - before) / 1e6;
}

/** Below this share of the elapsed time on a CPU, a thread that waited more than it ran is taken as descheduled. */
const RAN_SHARE_OF_BLOCKED_CODE = 0.1;

/**
 * True when, between two readings, the thread waited for a CPU more than it
 * ran *and* hardly ran at all: a stale heartbeat then means preemption (or
 * throttling), not blocking code, and a probe would land wherever the thread
 * resumes. Blocking code on a loaded machine still gets its fair share of a
 * CPU (a quarter at load 8 on 2 cores), and a thread asleep in a native call
 * neither runs nor waits; neither counts. Unknown counts as not preempted.
 */
export function mostlyPreempted(before: ThreadClockSample | undefined, after: ThreadClockSample | undefined): boolean {
  if (before === undefined || after === undefined) return false;
  if (before.onCpuNs === null || after.onCpuNs === null || before.waitingNs === null || after.waitingNs === null) return false;
  const ran = after.onCpuNs - before.onCpuNs;
  const waited = after.waitingNs - before.waitingNs;
  const elapsedNs = (after.atMs - before.atMs) * 1e6;
  return waited > ran && ran < RAN_SHARE_OF_BLOCKED_CODE * elapsedNs;
}
