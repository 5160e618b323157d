/**
 * The worker threads this watchdog watches beside the main thread, and how it
 * probes them. `connectToMainThread()` reaches only the main thread; a
 * worker's isolate is reached through the main thread's inspector `NodeWorker`
 * domain: enabled once on this watchdog's main-thread session, it attaches a
 * session to every worker the main thread started, and a message sent there
 * (`NodeWorker.sendMessageToWorker`) is run in the worker by a V8 interrupt,
 * as `Runtime.evaluate` is on the main thread: it lands while the worker is
 * blocked, and needs neither the main thread's nor the worker's loop to turn
 * (checked on Node 20, 22 and 24: 1–5 ms while both the main thread and the
 * worker were blocked). Workers started by other workers are not attached
 * there: their stalls are measured and reported without a stack.
 */
import type { Session } from 'node:inspector';
import type { UnwatchThreadMessage, WatchThreadMessage } from '../contract/messages';
import { probeExpression } from '../contract/probe';
import { SharedState } from '../contract/shared-state';

export interface WatchedThread {
  readonly threadId: number;
  readonly label: string;
  readonly state: SharedState;
  readonly expression: string;
  /** The last stall window captured: one capture per window. */
  capturedWindow: number;
}

/** How long a probe of a worker may take before it counts as lost (a worker gone mid-probe never answers). */
const PROBE_TIMEOUT_MS = 1000;
/** How long a newly watched thread's session may take to attach before the main thread is told anyway. */
const ATTACH_WAIT_MS = 1000;

export class WatchedThreads {
  private readonly threads = new Map<number, WatchedThread>();
  /** threadId → the NodeWorker session attached to it. */
  private readonly sessions = new Map<number, string>();
  private readonly pending = new Map<number, (value: unknown) => void>();
  /** threadId → the timer that stops waiting for its session to attach. */
  private readonly attaching = new Map<number, ReturnType<typeof setTimeout>>();
  private nextId = 1;
  private enabled = false;

  constructor(
    private readonly session: Session,
    private readonly captureStacks: boolean,
    private readonly maxStackFrames: number,
    /** The thread can be probed now, or its session will not attach (the main thread tells it it is watched). */
    private readonly onReachable: (threadId: number) => void = () => undefined,
  ) {}

  get size(): number {
    return this.threads.size;
  }

  /** A main-thread message about threads; false for any other. */
  handle(message: unknown): boolean {
    const m = message as WatchThreadMessage | UnwatchThreadMessage | null;
    if (typeof m !== 'object' || m === null) return false;
    if (m.type === 'thread:watch') {
      const known = this.threads.get(m.threadId);
      if (known === undefined || known.state.buffer !== m.buffer) {
        this.threads.set(m.threadId, {
          threadId: m.threadId,
          label: m.label,
          state: new SharedState(m.buffer),
          expression: probeExpression(this.maxStackFrames, m.probeId),
          capturedWindow: 0,
        });
      }
      this.enable();
      this.awaitAttach(m.threadId);
      return true;
    }
    if (m.type === 'thread:unwatch') {
      this.threads.delete(m.threadId);
      this.settleAttach(m.threadId, false);
      return true;
    }
    return false;
  }

  /**
   * The watched thread whose heartbeat is `afterMs` late soonest, and in how
   * many ms (≤ 0: late now). Threads whose current window was captured
   * already, or that do not allow captures, are measured by their own
   * heartbeat and skipped here; so are pool workers parked between tasks.
   */
  nextLate(nowEpochMs: number, afterMs: number): { thread: WatchedThread; inMs: number } | undefined {
    let next: { thread: WatchedThread; inMs: number } | undefined;
    for (const thread of this.threads.values()) {
      if (!thread.state.captureAllowed || thread.state.parked || thread.capturedWindow === thread.state.window) continue;
      const inMs = thread.state.msUntilLate(nowEpochMs, afterMs);
      if (next === undefined || inMs < next.inMs) next = { thread, inMs };
    }
    return next;
  }

  /** Tells the main thread once the thread's session is attached, or after ATTACH_WAIT_MS without it. */
  private awaitAttach(threadId: number): void {
    if (!this.captureStacks || this.sessions.has(threadId)) return this.onReachable(threadId);
    if (this.attaching.has(threadId)) return;
    const timer = setTimeout(() => this.settleAttach(threadId, true), ATTACH_WAIT_MS);
    this.attaching.set(threadId, timer);
  }

  private settleAttach(threadId: number, tell: boolean): void {
    const timer = this.attaching.get(threadId);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.attaching.delete(threadId);
    if (tell) this.onReachable(threadId);
  }

  /** Whether the probe can reach this thread (its NodeWorker session is attached). */
  reachable(thread: WatchedThread): boolean {
    return this.sessions.has(thread.threadId);
  }

  /** Runs `thread.expression` in the thread; its value, or undefined when it cannot be reached or took too long. */
  evaluate(thread: WatchedThread): Promise<unknown> {
    const sessionId = this.sessions.get(thread.threadId);
    if (sessionId === undefined) return Promise.resolve(undefined);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, PROBE_TIMEOUT_MS);
      this.pending.set(id, (value) => {
        clearTimeout(timer);
        resolve(value);
      });
      const message = JSON.stringify({ id, method: 'Runtime.evaluate', params: { expression: thread.expression, returnByValue: true, silent: true } });
      this.session.post('NodeWorker.sendMessageToWorker', { sessionId, message }, (err: Error | null) => {
        if (err === null) return;
        this.pending.delete(id);
        clearTimeout(timer);
        resolve(undefined);
      });
    });
  }

  private enable(): void {
    if (this.enabled || !this.captureStacks) return;
    this.enabled = true;
    this.session.on('NodeWorker.attachedToWorker', ({ params }: { params: { sessionId: string; workerInfo: { title: string } } }) => {
      // The title is "[worker <threadId>] <name>" on Node 20 to 26; workerId is not the threadId.
      const match = /^\[worker (\d+)\]/.exec(params.workerInfo.title);
      if (!match) return;
      this.sessions.set(Number(match[1]), params.sessionId);
      this.settleAttach(Number(match[1]), true);
    });
    this.session.on('NodeWorker.detachedFromWorker', ({ params }: { params: { sessionId: string } }) => {
      for (const [threadId, sessionId] of this.sessions) if (sessionId === params.sessionId) this.sessions.delete(threadId);
    });
    this.session.on('NodeWorker.receivedMessageFromWorker', ({ params }: { params: { message: string } }) => {
      let reply: { id?: number; result?: { result?: { value?: unknown } } };
      try {
        reply = JSON.parse(params.message);
      } catch {
        return;
      }
      if (reply.id === undefined) return;
      const done = this.pending.get(reply.id);
      if (done === undefined) return;
      this.pending.delete(reply.id);
      done(reply.result?.result?.value);
    });
    // Attaches a session to every worker the main thread started, now and later; none waits for it.
    this.session.post('NodeWorker.enable', { waitForDebuggerOnStart: false }, () => undefined);
  }
}
