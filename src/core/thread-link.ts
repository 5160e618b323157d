/**
 * A kernel in a worker thread starts no watchdog of its own: it joins the
 * process's one watchdog through the main thread's guard (contract/threads.ts).
 * This is the worker side of that link. It stands where the kernel's watchdog
 * host stands on the main thread: it receives the samples of the thread's
 * stall windows, and it publishes what the main thread exports: every stall
 * report, and the loop delay and ELU figures in shared memory.
 */
import { performance } from 'node:perf_hooks';
import { threadId, type BroadcastChannel, type MessagePort } from 'node:worker_threads';
import type { CaptureSample } from '../contract/messages';
import { SharedState } from '../contract/shared-state';
import { receiveMessageOnPort } from './piscina-tasks';
import { openThreadsChannel, ThreadFigures, threadLabelFor, type ThreadMessage } from '../contract/threads';
import type { GuardObservers } from './observers';

/**
 * The heartbeat of a worker thread. The watchdog sleeps on the main thread's
 * heartbeat word; when this thread's heartbeat leaves its idle period it must
 * wake the watchdog there, or a stall that begins now would be caught only by
 * the old, later deadline.
 */
/** As collectors/loop-stats.ts. */
const ELU_INTERVAL_MS = 1000;

export class LinkedSharedState extends SharedState {
  wake: Int32Array | undefined;

  override rebase(atEpochMs: number, periodMs: number): void {
    super.rebase(atEpochMs, periodMs);
    if (this.wake !== undefined) Atomics.notify(this.wake, 0);
  }
}

export interface ThreadLinkEvents {
  onSamples(window: number, samples: CaptureSample[]): void;
  /** The main thread's guard watches this thread now. */
  onReady?(): void;
  /** Time the thread spent parked by its pool so far, ms: taken out of its ELU's busy time. */
  parkedMs?(): number;
}

/** Worker threads the link knows exist (a thread's own nested workers), by their thread id. */
type WorkerLike = { threadId: number; once(event: 'exit', listener: () => void): unknown };

export class ThreadLink {
  /** The label the main thread gave this thread (capped there); the requested one until then. */
  label: string;
  /** The main thread's guard answered: the watchdog watches this thread. */
  ready = false;
  readonly figures = new ThreadFigures();
  private channel: BroadcastChannel | undefined;
  private closed = false;
  private detach: (() => void) | undefined;

  constructor(
    private readonly shared: LinkedSharedState,
    private readonly probeId: number,
    private readonly observers: GuardObservers,
    private readonly events: ThreadLinkEvents,
    name: string | undefined,
  ) {
    this.label = threadLabelFor(name, threadId);
  }

  get running(): boolean {
    return this.ready && !this.closed;
  }

  start(): void {
    if (this.closed || this.channel) return;
    this.channel = openThreadsChannel((message) => this.onMessage(message));
    const figures = this.figures;
    const parkedMs = this.events.parkedMs ?? (() => 0);
    let mark = performance.eventLoopUtilization();
    let markAt = performance.now();
    let parkedMark = parkedMs();
    this.detach = this.observers.add({
      beat(lateMs) {
        figures.recordDelay(lateMs / 1000);
        // Interval ELU as the main thread's loop stats take it: about once a second, deltas.
        const now = performance.now();
        if (now - markAt < ELU_INTERVAL_MS) return;
        const next = performance.eventLoopUtilization();
        const { active, idle } = performance.eventLoopUtilization(next, mark);
        // A pool's wait for tasks inside a callback (piscina's Atomics.wait) is no work.
        const parked = parkedMs();
        const busy = Math.max(0, active - (parked - parkedMark));
        const utilization = busy / (active + idle);
        figures.recordUtilization(Number.isFinite(utilization) ? Math.min(1, utilization) : 0, performance.timeOrigin + now);
        mark = next;
        markAt = now;
        parkedMark = parked;
      },
      stall: (report, routeLabel) => this.post({ type: 'stall', threadId, report, routeLabel }),
    });
    process.on('exit', this.onExit);
    process.on('worker', this.onWorker);
    this.join();
  }

  close(): void {
    if (this.closed) return;
    this.post({ type: 'leave', threadId });
    this.closed = true;
    this.ready = false;
    this.detach?.();
    process.off('exit', this.onExit);
    process.off('worker', this.onWorker);
    this.channel?.close();
    this.channel = undefined;
  }

  /**
   * Reads the messages waiting on the channel now, without the loop: a
   * worker parked by its pool between tasks (core/piscina-tasks.ts) turns
   * its loop only while a task runs.
   */
  drain(): void {
    // Node takes a BroadcastChannel here (since 15.12); its types know only MessagePort.
    const channel = this.channel as unknown as MessagePort | undefined;
    if (channel === undefined) return;
    for (let entry = receiveMessageOnPort(channel); entry !== undefined && !this.closed; entry = receiveMessageOnPort(channel)) {
      this.onMessage((entry as { message: ThreadMessage }).message);
    }
  }

  private join(): void {
    this.post({ type: 'join', threadId, label: this.label, heartbeat: this.shared.buffer, figures: this.figures.buffer, probeId: this.probeId });
  }

  private onMessage(message: ThreadMessage): void {
    if (this.closed || typeof message !== 'object' || message === null) return;
    if (message.type === 'hello') return this.join();
    if (!('threadId' in message) || message.threadId !== threadId) return;
    if (message.type === 'watched') {
      this.label = message.label;
      this.shared.wake = new Int32Array(message.wake, 0, 1);
      const first = !this.ready;
      this.ready = true;
      if (first) this.events.onReady?.();
    } else if (message.type === 'samples') {
      this.events.onSamples(message.window, message.samples);
    }
  }

  private post(message: ThreadMessage): void {
    if (this.closed) return;
    try {
      this.channel?.postMessage(message);
    } catch {
      // A report that cannot be cloned is dropped, never thrown into the app.
    }
  }

  // A worker that ends its own life says so; one terminated from outside cannot
  // run JavaScript any more: the thread that created it says so (onWorker).
  private readonly onExit = (): void => this.close();

  private readonly onWorker = (worker: WorkerLike): void => {
    const id = worker.threadId;
    worker.once('exit', () => this.post({ type: 'leave', threadId: id }));
  };
}
