import { inWorkerAdvice } from '../advice/in-worker';
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
import { StallPipeline } from './stall-pipeline';
import { watchPiscinaTasks } from './piscina-tasks';
import { isPiscinaWorker, runTask } from './task-context';
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
   * waits for the next task in `Atomics.wait`, inside a callback, so the loop
   * turns only while a task runs, and that wait is not a stall. Its tasks
   * (core/piscina-tasks.ts) unpark it.
   */
  readonly #parksBetweenTasks = !isMainThread && isPiscinaWorker() && process.env['PISCINA_DISABLE_ATOMICS'] !== '1';
  #tasksRunning = 0;
  /** `runTask` tasks not settled yet. */
  #tasksInFlight = 0;
  #parkedAt = 0;
  #parkedMs = 0;
  /** The piscina task whose end is being measured: the loop ran nothing else since the last beat. */
  #endingTask: string | undefined;
  #unwatchPiscina: (() => void) | undefined;
  readonly #sleepWord = new Int32Array(new SharedArrayBuffer(4));

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
      { periodMs: options.idleHeartbeatMs, quiet: () => this.tracker.inFlight === 0 && this.#tasksInFlight === 0 },
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
        parkedMs: () => this.parkedMs(),
      }, threadName());
      this.#watchdog = link;
      link.start();
      this.#captureGate.start();
      if (this.#parksBetweenTasks) {
        this.shared.parked = true;
        this.#parkedAt = performance.now();
        this.#unwatchPiscina = watchPiscinaTasks({
          began: () => this.#guarded(() => this.#taskBegan()),
          ended: (name) => this.#guarded(() => this.#taskEnded(name)),
        });
      }
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
   * Runs `fn` as one pool task named `name` (core/task-context.ts): its
   * stalls name the task. A task is work in flight, as a request is: it
   * brings the heartbeat's busy pace back, or a stall it causes in an idle
   * worker would be caught only if it outlasted the idle period.
   */
  runTask<R>(name: string, fn: () => R): R {
    if (this.#heartbeat.idle) this.#heartbeat.wake();
    this.#tasksInFlight++;
    return runTask(name, fn, () => this.#tasksInFlight--);
  }

  /**
   * A piscina task begins in this (parked) worker. The link's messages are
   * read first: a parked loop has not turned to receive them (the watchdog's
   * answer to the join among them). The heartbeat starts over in a new
   * window before the watchdog may look again, so the wait is not a stall.
   */
  #taskBegan(): void {
    if (this.#closed || this.#tasksRunning++ > 0 || !this.shared.parked) return;
    (this.#watchdog as ThreadLink | undefined)?.drain();
    this.#heartbeat.restart();
    this.#parkedMs += performance.now() - this.#parkedAt;
    this.shared.parked = false;
    this.#captureGate.update();
  }

  /**
   * The last running piscina task was answered: its lateness is measured now
   * (the loop has not turned since it began), then the loop parks. After a
   * stall the worker waits here for the stall's samples, read from the link
   * without turning the loop, so the report carries the task's stack: the
   * answer has been posted already, only this worker's next task waits.
   */
  #taskEnded(name: string): void {
    if (this.#closed || this.#tasksRunning === 0 || --this.#tasksRunning > 0) return;
    this.#endingTask = name;
    try {
      this.#heartbeat.beatNow();
    } finally {
      this.#endingTask = undefined;
    }
    this.shared.parked = true;
    this.#parkedAt = performance.now();
    const link = this.#watchdog as ThreadLink | undefined;
    const giveUpAt = this.#parkedAt + PARKED_SAMPLES_WAIT_MS;
    while (this.#pipeline.awaitingSamplesCount > 0 && !this.#closed) {
      link?.drain();
      if (this.#pipeline.awaitingSamplesCount === 0) break;
      if (performance.now() > giveUpAt) {
        // Its timer would fire only when this loop turns again: reported now, without them.
        this.#pipeline.flushAwaiting();
        break;
      }
      Atomics.wait(this.#sleepWord, 0, 0, 2);
    }
  }

  /** Time this thread spent parked by its pool, ms (its ELU counts the wait as busy: it is a callback's). */
  parkedMs(): number {
    return this.#parkedMs + (this.shared.parked && this.#parkedAt > 0 ? performance.now() - this.#parkedAt : 0);
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
    this.#unwatchPiscina?.();
    this.shared.parked = false;
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
      // Only the main thread's: the watchdog keeps no clock of a worker's.
      const askClock = !watched && this.#options.captureStacks && this.#watchdog instanceof Watchdog && this.#watchdog.ready;
      if (askClock) this.shared.markMissed(endedWindow);
      const samplesComing = this.#watchdog?.running === true && (watched || askClock);
      const stall = { window: endedWindow, startedAt: nowEpochMs - lateMs, durationMs: lateMs, inFlight, ...(this.#endingTask !== undefined && { task: this.#endingTask }) };
      this.#pipeline.measured(stall, samplesComing);
    } catch (err) {
      this.errors.report(err);
    }
  }

  /** A finished report goes to the observers with the route label the metrics use. */
  #deliver(report: StallReport): void {
    if (this.#closed) return;
    const label =
      report.cause === 'gc'
        ? ROUTE_GC
        : report.cause === 'host'
          ? ROUTE_HOST
          : report.route === null
            ? ROUTE_BACKGROUND
            : report.cause === 'task' || (report.cause === 'expected' && report.method === null)
              ? this.routes.labelForName(report.route)
              : this.routes.labelFor(report.route);
    report.thread = this.threadLabel;
    if (!isMainThread) report.advice = inWorkerAdvice(report.advice);
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

/**
 * How long a parked piscina worker waits for a stall's samples after its task:
 * the watchdog notices the beat within one resample period (half the
 * threshold) plus a probe in flight.
 */
const PARKED_SAMPLES_WAIT_MS = 300;

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
