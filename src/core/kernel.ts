import { ROUTE_BACKGROUND, ROUTE_GC, ROUTE_HOST } from '../catalogue';
import type { WatchdogConfig, WorkerMessage } from '../contract/messages';
import type { ThreadTimeMeasurement } from '../contract/thread-time';
import { epochNow, SharedState } from '../contract/shared-state';
import { LoopGuardError } from '../errors';
import { CaptureGate } from './capture-gate';
import type { Collector, WorkerParts } from './collector';
import { expectedRouteTest } from './expected';
import { GcPauses } from './gc-pauses';
import { Heartbeat } from './heartbeat';
import type { KernelOptions } from './kernel-options';
import { GuardObservers, RequestObservers } from './observers';
import { enablePrecise } from './precise';
import { guardClosed, guardOpened } from './process-patches';
import { ErrorReporter } from './report-errors';
import { registerWindowReader, unregisterWindowReader } from './request-context';
import { RequestTracker } from './request-tracker';
import { RouteTable } from './routes';
import { SAMPLES_TIMEOUT_MS, StallPipeline } from './stall-pipeline';
import { isPiscinaWorker, runTask, type TaskName } from './task-context';
import type { StallReport } from './stall-report';
import { Watchdog } from './watchdog-host';
import { isMainThread, threadName } from './thread-name';
import { LinkedSharedState, ThreadLink } from './thread-link';
import { THREAD_MAIN } from '../contract/threads';

/**
 * The kernel: the heartbeat, the shared state, the request tracker, the stall
 * pipeline and the watchdog host. It measures stalls and names their
 * culprits; it accumulates nothing. Everything that counts, exports, shows
 * or sheds is a collector attached from outside (src/compose.ts) that follows
 * the kernel through its observers. Only `tracker.begin` (through the
 * guard's `beginRequest`) runs on the request path.
 */
export class Kernel {
  readonly routes: RouteTable;
  readonly tracker: RequestTracker;
  /** In a worker thread the heartbeat also wakes the process's one watchdog (core/thread-link.ts). */
  readonly shared: SharedState = isMainThread ? new SharedState() : new LinkedSharedState();
  readonly gcPauses = new GcPauses();
  readonly observers: GuardObservers;
  readonly requestObservers: RequestObservers;
  readonly errors: ErrorReporter;
  readonly #options: KernelOptions;
  readonly #onReady: () => void;
  readonly #heartbeat: Heartbeat;
  readonly #pipeline: StallPipeline;
  /** This kernel's id for the capture probe, which reads its heartbeat window. */
  readonly #probeId = registerWindowReader(() => this.shared.window);
  readonly #collectors: Collector[] = [];
  readonly #captureGate: CaptureGate;
  #watchdog: Watchdog | ThreadLink | undefined;
  #releasePrecise: (() => void) | undefined;
  #closed = false;
  /**
   * A piscina worker's loop is parked by its pool between tasks: piscina
   * waits for the next task in `Atomics.wait`, so the loop turns only while
   * a task runs, and a wait is not a stall. Tasks (`runTask`) unpark it.
   */
  readonly #parksBetweenTasks = !isMainThread && isPiscinaWorker();
  #tasksRunning = 0;

  constructor(options: KernelOptions, onReady: () => void = () => undefined) {
    this.#options = options;
    this.errors = new ErrorReporter(options.onError, options.logger);
    const reportError = (err: unknown): void => this.errors.report(err);
    this.observers = new GuardObservers(reportError);
    this.routes = new RouteTable(options.maxRoutes);
    this.#captureGate = new CaptureGate(this.shared, options.captureStacks, options.startupGraceMs);
    this.#heartbeat = new Heartbeat(
      options.heartbeatMs,
      this.shared,
      { onBeat: (lateMs, window, now) => this.onBeat(lateMs, window, now) },
      { periodMs: options.idleHeartbeatMs, quiet: () => this.tracker.inFlight === 0 },
    );
    this.tracker = new RequestTracker(this.routes, this.#heartbeat, options.precise, ({ record, route }) => this.#pipeline.culpritFinished(record.id, route));
    this.tracker.victimThresholdMs = options.thresholdMs;
    this.tracker.blameAfterResponseMs = options.blameAfterResponseMs;
    this.requestObservers = new RequestObservers((current) => (this.tracker.observer = current));
    this.#pipeline = new StallPipeline({ heartbeatMs: options.heartbeatMs, expectedRoute: expectedRouteTest(options.expectedBlockingRoutes), thresholdMs: options.thresholdMs }, {
      gcPauses: () => this.gcPauses.snapshot(),
      chargeStall: (requestId, ms) => this.tracker.chargeStall(requestId, ms),
      culprit: (requestId, report) => this.observers.culprit(requestId, report),
      deliver: (report) => this.#deliver(report),
      samplesUsed: (samples) => this.observers.samplesUsed(samples),
    });
    this.#onReady = onReady;
    // Last: a kernel counts as open (for process-wide patches) once nothing here can throw; close() counts it out.
    guardOpened();
  }

  /** Plugs a collector in; one attached to a closed kernel is closed at once. */
  attach<C extends Collector>(collector: C): C {
    if (this.#closed) this.#close(collector);
    else this.#collectors.push(collector);
    return collector;
  }

  /** Starts the heartbeat and, when anything needs it, the watchdog worker with every collector's parts. */
  start(): void {
    const options = this.#options;
    if (options.precise) this.#releasePrecise = enablePrecise();
    this.#heartbeat.start();
    this.gcPauses.start();
    const parts: WorkerParts = Object.assign({}, ...this.#collectors.map((c) => c.worker));
    if (!isMainThread) {
      // A worker thread joins the process's one watchdog instead of starting its own;
      // the worker parts (metrics endpoint, pool probe, busy sampler) are the main thread's.
      const link = new ThreadLink(this.shared as LinkedSharedState, this.#probeId, this.observers, {
        onSamples: (window, samples) => this.#guarded(() => this.#pipeline.samplesArrived(window, samples)),
        onReady: () => this.#onReady(),
      }, threadName());
      this.#watchdog = link;
      link.start();
      this.#captureGate.start();
      if (this.#parksBetweenTasks) this.shared.parked = true;
      return;
    }
    // Without captures the worker still runs when a collector needs it; it just never probes.
    if (options.captureStacks || parts.metricsServer || parts.poolProbe || parts.busy) {
      const listeners = this.#collectors.filter((c) => c.onWorkerMessage);
      this.#watchdog = new Watchdog(
        this.shared,
        { ...watchdogConfig(options, this.#probeId), ...parts },
        {
          onSamples: (window, samples, threadTime) =>
            this.#guarded(() => {
              this.#threadClockUnavailable(threadTime);
              this.#pipeline.samplesArrived(window, samples, threadTime);
            }),
          onError: (error) => this.errors.report(new LoopGuardError('LOOPGUARD_WATCHDOG_FAILED', error.message, { cause: error })),
          onReady: () => this.#onReady(),
          onMessage: (message, reply) => {
            for (const c of listeners) this.#guarded(() => c.onWorkerMessage!(message as WorkerMessage, reply));
          },
        },
      );
      this.#watchdog.start();
    }
    this.#captureGate.start();
  }

  /**
   * Runs one pool task (core/task-context.ts). In a piscina worker it also
   * unparks the loop for the task's time and, when the task ends, measures
   * the beat its synchronous run held back; after a stall the result waits
   * for the stall's samples (the loop must turn to receive them), so the
   * report carries its stack. Elsewhere the task only gets its context.
   */
  runTask<R>(name: TaskName, fn: () => R): R {
    if (!this.#parksBetweenTasks || this.#closed) return runTask(name, fn);
    if (this.#tasksRunning++ === 0 && this.shared.parked) {
      this.shared.parked = false;
      this.#captureGate.update();
      this.#heartbeat.restart();
    }
    let result: R;
    try {
      result = runTask(name, fn);
    } catch (err) {
      const settled = this.#taskEnded();
      if (settled === undefined) throw err;
      return settled.then(() => Promise.reject(err)) as R;
    }
    if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
      return Promise.resolve(result).then(
        async (value) => {
          await this.#taskEnded();
          return value;
        },
        async (err: unknown) => {
          await this.#taskEnded();
          throw err;
        },
      ) as R;
    }
    const settled = this.#taskEnded();
    return settled === undefined ? result : (settled.then(() => result) as R);
  }

  /** The last running task ended: its lateness is measured now, then the loop parks once a stall's samples are in. */
  #taskEnded(): Promise<void> | undefined {
    if (--this.#tasksRunning > 0 || this.#closed) return undefined;
    this.#heartbeat.beatNow();
    if (this.#pipeline.awaitingSamplesCount === 0) {
      this.shared.parked = true;
      return undefined;
    }
    const giveUpAt = performance.now() + SAMPLES_TIMEOUT_MS + 100;
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.#closed || this.#pipeline.awaitingSamplesCount === 0 || performance.now() > giveUpAt) {
          if (this.#tasksRunning === 0) this.shared.parked = true;
          resolve();
        } else setTimeout(check, 5);
      };
      setTimeout(check, 5);
    });
  }

  /** How long the loop has been blocked right now, ms. */
  blockedForMs(): number {
    return this.shared.blockedForMs(epochNow());
  }

  inStartupGrace(): boolean {
    return this.#captureGate.inGrace();
  }

  /** The watchdog host; in a worker thread, its link to the process's watchdog. */
  get watchdog(): Watchdog | ThreadLink | undefined {
    return this.#watchdog;
  }

  /** This loop's `thread` label: `main`, or the worker's (capped by the main thread's guard). */
  get threadLabel(): string {
    return this.#watchdog instanceof ThreadLink ? this.#watchdog.label : THREAD_MAIN;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Stops timers and the worker, then closes every collector: the process can exit. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#heartbeat.stop();
    this.#captureGate.close();
    this.#watchdog?.close();
    unregisterWindowReader(this.#probeId);
    this.gcPauses.close();
    this.#releasePrecise?.();
    this.#pipeline.close();
    for (const collector of this.#collectors.splice(0)) this.#close(collector);
    guardClosed();
  }

  /** The heartbeat's listener (tests drive it directly): late by `lateMs`, ending `endedWindow`, at epoch `nowEpochMs`. */
  onBeat(lateMs: number, endedWindow: number, nowEpochMs: number): void {
    try {
      this.#captureGate.beat(nowEpochMs);
      this.observers.beat(lateMs);
      // Victims whose own timers expired during the stall finish in this same
      // timers phase, before the heartbeat runs: they are counted as they finish.
      const inFlight = this.tracker.inFlight + this.tracker.finishedVictims;
      this.tracker.finishedVictims = 0;
      if (lateMs < this.#options.thresholdMs || this.inStartupGrace()) return;
      const watched = this.shared.capturing === endedWindow;
      // A stall the worker did not watch (the host held it too, or the loop turned
      // before it looked): it still has the main thread's clock from before it.
      const askClock = !watched && this.#options.captureStacks && this.#watchdog?.ready === true;
      if (askClock) this.shared.markMissed(endedWindow);
      const samplesComing = this.#watchdog?.running === true && (watched || askClock);
      this.#pipeline.measured({ window: endedWindow, startedAt: nowEpochMs - lateMs, durationMs: lateMs, inFlight }, samplesComing);
    } catch (err) {
      this.errors.report(err);
    }
  }

  /** A finished report goes to the observers with the route label the metrics use. */
  #deliver(report: StallReport): void {
    if (this.#closed) return;
    const label =
      report.cause === 'gc' ? ROUTE_GC : report.cause === 'host' ? ROUTE_HOST : report.route === null ? ROUTE_BACKGROUND : this.routes.labelFor(report.route);
    report.thread = this.threadLabel;
    this.observers.stall(report, label);
  }

  /** Says once (the reporter remembers it) which of the thread's clocks this machine does not have. */
  #threadClockUnavailable(threadTime: ThreadTimeMeasurement | null): void {
    if (threadTime === null || threadTime.unavailable.length === 0) return;
    this.errors.report(
      new LoopGuardError(
        'LOOPGUARD_THREAD_TIME_UNAVAILABLE',
        `loopguard: cannot read ${threadTime.unavailable.join(', ')} for the main thread here (${process.platform}): ` +
          "stall reports' threadTime fields from it are null, and without schedstat their state too, unless GC decides it (docs/stall-state.md)",
      ),
    );
  }

  #guarded(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.errors.report(err);
    }
  }

  #close(collector: Collector): void {
    this.#guarded(() => collector.close());
  }
}

/** The worker's own settings, from the kernel's options (collectors add their parts). */
function watchdogConfig(options: KernelOptions, probeId: number): Omit<WatchdogConfig, 'buffer'> {
  return {
    captureAfterMs: options.captureAfterMs,
    resampleMs: Math.max(10, Math.round(options.thresholdMs / 2)),
    maxSamplesPerStall: options.maxSamplesPerStall,
    maxStackFrames: options.maxStackFrames,
    probeId,
    captureStacks: options.captureStacks,
  };
}
