/**
 * The main thread's side of watched worker threads: it hears them join over
 * the threads channel (contract/threads.ts), gives each a capped `thread`
 * label, hands its heartbeat to the watchdog (the process's one), routes the
 * watchdog's samples back to it, takes its stall reports into this guard's
 * observers (stall stats, delivery, exporters), and reads its loop figures
 * from shared memory at collect time. A thread that ends is forgotten: the
 * thread that created it says so (`process.on('worker')`, an exit is always
 * seen there), or the thread itself when it ends on its own.
 */
import type { BroadcastChannel } from 'node:worker_threads';
import { DELAY_BUCKETS_SECONDS } from '../catalogue';
import type { ThreadSamplesMessage, WatchThreadMessage, WorkerMessage } from '../contract/messages';
import {
  MAX_THREAD_LABELS,
  THREAD_OTHER,
  openThreadsChannel,
  ThreadFigures,
  type ThreadJoinMessage,
  type ThreadMessage,
} from '../contract/threads';
import type { Collector } from '../core/collector';
import type { Kernel } from '../core/kernel';
import type { StallReport } from '../core/stall-report';
import { Watchdog } from '../core/watchdog-host';

interface WatchedThread {
  readonly threadId: number;
  readonly label: string;
  readonly figures: ThreadFigures;
  /** What it joined with (sent again to a restarted watchdog). */
  join: ThreadJoinMessage;
  /** Told it is watched (`watched`); until then the watchdog's session for it is attaching. */
  answered: boolean;
  /** Answers anyway if the watchdog never says (it restarted meanwhile). */
  answerTimer: ReturnType<typeof setTimeout> | undefined;
}

/** Longer than the watchdog's own wait for a session to attach (watchdog/threads.ts). */
const ANSWER_FALLBACK_MS = 2000;

/** One label's loop delay: the live threads' histograms plus what threads that ended left behind. */
export interface ThreadDelay {
  readonly bounds: readonly number[];
  /** Non-cumulative counts per bucket, +Inf last. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
  cumulative(): number[];
}

function threadDelay(counts: Float64Array, sum: number, count: number): ThreadDelay {
  return { bounds: DELAY_BUCKETS_SECONDS, counts, sum, count, cumulative: () => cumulate(counts) };
}

/** What a collector reads per label (exporters, the snapshot). */
export interface ThreadRow {
  readonly label: string;
  /** Live threads under this label. */
  readonly threads: number;
  /** ELU over the threads' last interval (their mean), or null with no live thread that measured one. */
  readonly utilization: number | null;
  readonly delay: ThreadDelay;
}

/** `snapshot().threads`: one row per worker thread label (the main thread's figures are the snapshot's own). */
export interface ThreadSummary {
  thread: string;
  /** Live threads under this label now. */
  threads: number;
  utilization: number | null;
  /** Heartbeat samples taken so far. */
  delayCount: number;
}

declare module './snapshot' {
  interface SnapshotSections {
    /** Watched worker threads (absent in a worker thread's own guard). */
    threads?: ThreadSummary[];
  }
}

export class ThreadRegistry implements Collector {
  private readonly threads = new Map<number, WatchedThread>();
  /** Every label ever given (capped): counters keep their series, so a label is never handed out twice to mean two things. */
  private readonly labels = new Map<string, { retiredCounts: Float64Array; retiredSum: number; retiredCount: number }>();
  private channel: BroadcastChannel | undefined;
  private closed = false;

  constructor(
    private readonly kernel: Kernel,
    private readonly maxLabels = MAX_THREAD_LABELS,
  ) {}

  start(): void {
    if (this.closed || this.channel) return;
    this.channel = openThreadsChannel((message) => this.onMessage(message));
    process.on('worker', this.onWorker);
    // Threads that started before this guard join now.
    this.post({ type: 'hello' });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    process.off('worker', this.onWorker);
    this.channel?.close();
    this.channel = undefined;
    for (const id of [...this.threads.keys()]) this.leave(id);
  }

  /** The watchdog restarted (or started late): it watches every live thread again. */
  rewatchAll(): void {
    for (const t of this.threads.values()) this.watch(t, false);
  }

  /** The watchdog's samples of a thread's stall, routed to that thread; its word that it can probe a thread. */
  onWorkerMessage(message: WorkerMessage): void {
    if (message.type === 'thread:reachable') {
      const thread = this.threads.get(message.threadId);
      if (thread !== undefined) this.answer(thread);
      return;
    }
    if (message.type !== 'thread:samples') return;
    const { threadId, window, samples } = message as ThreadSamplesMessage;
    if (this.threads.has(threadId)) this.post({ type: 'samples', threadId, window, samples });
  }

  get size(): number {
    return this.threads.size;
  }

  /** Per label: live threads, ELU, loop delay. */
  rows(): ThreadRow[] {
    const rows = new Map<string, { threads: number; measured: number; elu: number; delay: ThreadDelay }>();
    for (const [label, retired] of this.labels) {
      const delay = threadDelay(Float64Array.from(retired.retiredCounts), retired.retiredSum, retired.retiredCount);
      rows.set(label, { threads: 0, measured: 0, elu: 0, delay });
    }
    for (const t of this.threads.values()) {
      const row = rows.get(t.label)!;
      row.threads++;
      const elu = t.figures.utilization;
      if (elu !== null) {
        row.measured++;
        row.elu += elu;
      }
      const counts = row.delay.counts;
      for (let i = 0; i < counts.length; i++) counts[i]! += t.figures.bucket(i);
      row.delay.sum += t.figures.delaySum;
      row.delay.count += t.figures.delayCount;
    }
    return [...rows.entries()].map(([label, r]) => ({
      label,
      threads: r.threads,
      utilization: r.measured === 0 ? null : r.elu / r.measured,
      delay: r.delay,
    }));
  }

  private onMessage(message: ThreadMessage): void {
    if (this.closed || typeof message !== 'object' || message === null) return;
    switch (message.type) {
      case 'join':
        return this.join(message);
      case 'leave':
        return this.leave(message.threadId);
      case 'stall': {
        const thread = this.threads.get(message.threadId);
        const report = message.report as StallReport;
        if (thread !== undefined) report.thread = thread.label;
        // Each thread caps its own names; across threads they count against this guard's cap too.
        const label = report.cause === 'task' && typeof message.routeLabel === 'string' ? this.kernel.routes.labelForName(message.routeLabel) : message.routeLabel;
        this.kernel.observers.stall(report, label);
        return;
      }
      default:
        return;
    }
  }

  private join(message: ThreadJoinMessage): void {
    let thread = this.threads.get(message.threadId);
    if (thread === undefined) {
      const figures = new ThreadFigures(message.figures);
      thread = { threadId: message.threadId, label: this.labelFor(message.label), figures, join: message, answered: false, answerTimer: undefined };
      this.threads.set(message.threadId, thread);
    }
    thread.join = message;
    this.watch(thread, true);
  }

  /**
   * Hands the thread to the watchdog; `answer`: tells the thread its label and
   * where to wake the watchdog, once the watchdog can probe it (it says so:
   * `thread:reachable`), so that the thread's `watchdog:ready` means its
   * stalls can be captured.
   */
  private watch(thread: WatchedThread, answer: boolean): void {
    const watchdog = this.kernel.watchdog;
    const { heartbeat: buffer, probeId } = thread.join;
    if (answer) thread.answered = false;
    if (watchdog instanceof Watchdog && watchdog.running) {
      watchdog.post({ type: 'thread:watch', threadId: thread.threadId, label: thread.label, buffer, probeId } satisfies WatchThreadMessage);
      // The watchdog sleeps in Atomics.wait: wake it to read the message now, not at its next turn.
      this.kernel.shared.poke();
      if (answer && thread.answerTimer === undefined) {
        thread.answerTimer = setTimeout(() => this.answer(thread), ANSWER_FALLBACK_MS);
        thread.answerTimer.unref();
      }
    } else if (answer) {
      this.answer(thread);
    }
  }

  private answer(thread: WatchedThread): void {
    if (thread.answerTimer !== undefined) clearTimeout(thread.answerTimer);
    thread.answerTimer = undefined;
    if (thread.answered || this.threads.get(thread.threadId) !== thread) return;
    thread.answered = true;
    this.post({ type: 'watched', threadId: thread.threadId, label: thread.label, wake: this.kernel.shared.buffer });
  }

  private leave(threadId: number): void {
    const thread = this.threads.get(threadId);
    if (thread === undefined) return;
    this.threads.delete(threadId);
    if (thread.answerTimer !== undefined) clearTimeout(thread.answerTimer);
    // What the thread measured stays counted under its label (histograms never go back).
    const retired = this.labels.get(thread.label)!;
    for (let i = 0; i < retired.retiredCounts.length; i++) retired.retiredCounts[i]! += thread.figures.bucket(i);
    retired.retiredSum += thread.figures.delaySum;
    retired.retiredCount += thread.figures.delayCount;
    const watchdog = this.kernel.watchdog;
    if (watchdog instanceof Watchdog) watchdog.post({ type: 'thread:unwatch', threadId });
  }

  private labelFor(wanted: string): string {
    if (this.labels.has(wanted)) return wanted;
    const label = this.labels.size < this.maxLabels ? wanted : THREAD_OTHER;
    if (!this.labels.has(label)) this.labels.set(label, { retiredCounts: new Float64Array(DELAY_BUCKETS_SECONDS.length + 1), retiredSum: 0, retiredCount: 0 });
    return label;
  }

  private post(message: ThreadMessage): void {
    try {
      this.channel?.postMessage(message);
    } catch {
      // Nothing to tell: a thread that misses a message joins again on the next hello.
    }
  }

  private readonly onWorker = (worker: { threadId: number; once(event: 'exit', listener: () => void): unknown }): void => {
    // Read now: a Worker's threadId is -1 once it has exited.
    const id = worker.threadId;
    worker.once('exit', () => this.leave(id));
  };
}

function cumulate(counts: Float64Array): number[] {
  const out = new Array<number>(counts.length);
  let running = 0;
  for (let i = 0; i < counts.length; i++) {
    running += counts[i]!;
    out[i] = running;
  }
  return out;
}
