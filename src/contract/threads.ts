/**
 * Worker threads watched by the process's one watchdog: what a watched
 * thread and the main thread's guard say to each other over one
 * BroadcastChannel (a worker's `parentPort` belongs to the app or its pool,
 * and a BroadcastChannel reaches nested workers too), the thread label, and
 * the figures each watched thread publishes in shared memory for the main
 * thread to read at collect time (pull, never push: a worker needs no
 * prom-client and posts nothing per beat).
 */
import { BroadcastChannel } from 'node:worker_threads';
import { DELAY_BUCKETS_SECONDS } from '../catalogue';
import type { CaptureSample } from './messages';
import { PROTOCOL_VERSION } from './symbols';

/** The BroadcastChannel name; versioned like the symbols, so copies that speak another version keep to themselves. */
export const THREADS_CHANNEL = `loopguard:threads@${PROTOCOL_VERSION}`;

/**
 * This thread's end of the channel. Unref'd: it never keeps a thread alive
 * (a worker's life is its own code's, the main thread's its app's).
 */
export function openThreadsChannel(onMessage: (message: ThreadMessage) => void): BroadcastChannel {
  const channel = new BroadcastChannel(THREADS_CHANNEL);
  channel.onmessage = (event) => onMessage((event as { data: ThreadMessage }).data);
  channel.unref();
  return channel;
}

/** The main thread's `thread` label value. */
export const THREAD_MAIN = 'main';
/** Threads beyond the cap share this label value. */
export const THREAD_OTHER = '(other)';
/** Distinct thread label values kept before new ones fold into `(other)`. */
export const MAX_THREAD_LABELS = 16;

/**
 * A worker's label: its name (`new Worker(file, { name })`), else
 * `worker-<threadId>`. Node 24 names unnamed workers `WorkerThread`, Node 22 ''.
 */
export function threadLabelFor(name: string | undefined, threadId: number): string {
  const trimmed = name?.trim();
  return trimmed && trimmed !== 'WorkerThread' ? trimmed.slice(0, 64) : `worker-${threadId}`;
}

/** Thread → main: watch me (sent at start and again on every `hello`). */
export interface ThreadJoinMessage {
  type: 'join';
  threadId: number;
  /** The label the thread asks for (threadLabelFor). */
  label: string;
  /** The thread's heartbeat (contract/shared-state.ts layout). */
  heartbeat: SharedArrayBuffer;
  /** The thread's figures (ThreadFigures layout below). */
  figures: SharedArrayBuffer;
  /** The thread's guard id for the capture probe in its own isolate. */
  probeId: number;
}

/** Main → threads: a guard listens now; every watched thread joins again. */
export interface ThreadHelloMessage {
  type: 'hello';
}

/** Main → thread: watched, under this label (capped); `wake` is the word the watchdog sleeps on. */
export interface ThreadWatchedMessage {
  type: 'watched';
  threadId: number;
  label: string;
  wake: SharedArrayBuffer;
}

/** Thread (or the thread that created it) → main: the thread is gone. */
export interface ThreadLeaveMessage {
  type: 'leave';
  threadId: number;
}

/** Thread → main: one of its stall reports (JSON), with the route label its own guard gave it. */
export interface ThreadStallMessage {
  type: 'stall';
  threadId: number;
  report: unknown;
  routeLabel: string;
}

/** Main → thread: the watchdog's samples of one of its stall windows. */
export interface ThreadSamplesForward {
  type: 'samples';
  threadId: number;
  window: number;
  samples: CaptureSample[];
}

export type ThreadMessage = ThreadJoinMessage | ThreadHelloMessage | ThreadWatchedMessage | ThreadLeaveMessage | ThreadStallMessage | ThreadSamplesForward;

// The figures: Float64 slots, written by the watched thread only (one writer), read by the main thread.
const UTILIZATION = 0; // ELU (0..1) over the thread's last completed interval of about a second
const UTILIZATION_AT = 1; // epoch ms it was measured at (0: not yet)
const DELAY_SUM = 2; // seconds
const DELAY_COUNT = 3;
const DELAY_BUCKETS = 4; // non-cumulative counts per bucket, +Inf last
const FIGURE_SLOTS = DELAY_BUCKETS + DELAY_BUCKETS_SECONDS.length + 1;

/**
 * A thread's loop delay histogram and ELU in shared memory. Plain (non-atomic)
 * writes: aligned 8-byte stores do not tear on the platforms Node runs on,
 * and a read between two writes is off by one beat at most.
 */
export class ThreadFigures {
  readonly buffer: SharedArrayBuffer;
  readonly bounds: readonly number[] = DELAY_BUCKETS_SECONDS;
  private readonly f64: Float64Array;

  constructor(buffer = new SharedArrayBuffer(FIGURE_SLOTS * 8)) {
    this.buffer = buffer;
    this.f64 = new Float64Array(buffer, 0, FIGURE_SLOTS);
  }

  /** Thread side, each beat. */
  recordDelay(seconds: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    this.f64[DELAY_BUCKETS + i]!++;
    this.f64[DELAY_SUM]! += seconds;
    this.f64[DELAY_COUNT]!++;
  }

  /** Thread side: ELU over its last interval, measured at epoch `atMs`. */
  recordUtilization(ratio: number, atMs: number): void {
    this.f64[UTILIZATION] = ratio;
    this.f64[UTILIZATION_AT] = atMs;
  }

  /** The thread's ELU over its last interval; null before its first interval ends. */
  get utilization(): number | null {
    return this.f64[UTILIZATION_AT] === 0 ? null : this.f64[UTILIZATION]!;
  }

  get delaySum(): number {
    return this.f64[DELAY_SUM]!;
  }

  get delayCount(): number {
    return this.f64[DELAY_COUNT]!;
  }

  /** Non-cumulative count of bucket `i` (+Inf last). */
  bucket(i: number): number {
    return this.f64[DELAY_BUCKETS + i]!;
  }
}
