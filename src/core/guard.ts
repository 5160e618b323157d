import { EventEmitter } from 'node:events';
import inspector from 'node:inspector';
import { DELAY_BUCKETS_SECONDS, ROUTE_BACKGROUND, ROUTE_GC, THREADPOOL_BUCKETS_SECONDS } from '../catalogue';
import { LoopGuardError } from '../errors';
import type { ResolvedOptions } from '../options';
import { Heartbeat } from './heartbeat';
import { LoopStats } from '../collectors/loop-stats';
import { ThreadPoolStats } from '../collectors/thread-pool';
import { BusyTime } from '../busy/busy-time';
import { WorkerPools, type WatchPoolOptions } from '../collectors/worker-pools';
import { epochNow, SharedState } from '../contract/shared-state';
import { Watchdog } from './watchdog-host';
import type { WatchdogConfig } from '../contract/messages';
import type { LoopGuardEvents } from './events';
import { Histogram } from './histogram';
import { GuardObservers, RequestObservers } from './observers';
import { enablePrecise } from './precise';
import type { Collector, GuardContext, GuardReadModel, ShedCounter } from './read-model';
import { callbackFailed, ErrorReporter } from './report-errors';
import { registerWindowReader, unregisterWindowReader, type RequestRecord, type RouteResolver } from './request-context';
import { RequestTracker } from './request-tracker';
import { RouteTable } from './routes';
import { buildSnapshot, type LoopGuardSnapshot } from '../collectors/snapshot';
import { expectedRouteTest, runExpected } from './expected';
import { StallPipeline } from './stall-pipeline';
import type { StallReport } from './stall-report';
import { StallStats } from '../collectors/stall-stats';
import { culpritFingerprint, ReportLimit } from './report-limit';
import { guardClosed, guardOpened } from './process-patches';

/** What the composition adds when it starts the guard: the parts of the worker that serve others. */
export interface StartWiring {
  /** The worker-served `/metrics` endpoint's settings, when `metricsServer` is on. */
  metricsServer?: WatchdogConfig['metricsServer'];
  /** Messages from the worker that are not the watchdog's own (the metrics endpoint's). */
  onWorkerMessage?(message: { type: string }, reply: (message: unknown) => void): void;
}

/** A guard's private state, for tests and benchmarks only (src/internal.ts). */
export interface GuardInternals {
  readonly routes: RouteTable;
  readonly stalls: StallStats;
  readonly tracker: RequestTracker;
  readonly loop: LoopStats;
  readonly shared: SharedState;
  readonly shedTotals: Map<string, ShedCounter>;
  readonly delayHistogram: Histogram;
  readonly threadPool: ThreadPoolStats;
  readonly workerPools: WorkerPools;
  readonly busy: BusyTime | undefined;
  /** The watchdog's main-thread side, once started (fault-injection tests stop its worker). */
  readonly watchdog: Watchdog | undefined;
  /** What the heartbeat calls each beat: late by `lateMs`, ending `endedWindow`, at epoch `nowEpochMs`. */
  onBeat(lateMs: number, endedWindow: number, nowEpochMs: number): void;
}

let readInternals: (guard: GuardCore) => GuardInternals;

/** The private state of a guard: reached only through src/internal.ts, which the package does not export. */
export function guardInternals(guard: GuardCore): GuardInternals {
  return readInternals(guard);
}

/**
 * The framework-neutral guard: owns the heartbeat, the watchdog, the request
 * tracker, the stall pipeline and the cumulative state collectors read.
 * Adapters call `beginRequest`; everything else happens off the request path.
 * It knows no exporter, view or shedder: those are collectors attached by the
 * composition (src/create-guard.ts) through `attach()`, before `start()`.
 */
export class GuardCore extends EventEmitter<LoopGuardEvents> {
  readonly options: ResolvedOptions;
  /** Heartbeat delay samples, seconds. */
  readonly #delayHistogram = new Histogram(DELAY_BUCKETS_SECONDS);
  readonly #routes: RouteTable;
  readonly #stalls: StallStats;
  readonly #tracker: RequestTracker;
  readonly #loop: LoopStats;
  readonly #shared = new SharedState();
  /** Requests answered 503 by load shedding, by route label and reason. */
  readonly #shedTotals = new Map<string, ShedCounter>();
  /** libuv's pool size, and the probe's delay histogram when the probe is on. */
  readonly #threadPool: ThreadPoolStats;
  /** Worker pools watched with `watchPool()`. */
  readonly #workerPools = new WorkerPools();
  /** Sampled busy time by route; undefined when `busySampleHz` is 0. */
  readonly #busy: BusyTime | undefined;
  /** This guard's id for the capture probe, which reads its heartbeat window. */
  readonly #probeId = registerWindowReader(() => this.#shared.window);
  readonly #heartbeat: Heartbeat;
  #watchdog: Watchdog | undefined;
  readonly #pipeline: StallPipeline;
  readonly #errors: ErrorReporter;
  readonly #reportLimit: ReportLimit;
  readonly #observers: GuardObservers;
  readonly #requestObservers: RequestObservers;
  readonly #collectors: Collector[] = [];
  readonly #sections = new Map<string, () => unknown>();
  readonly #context: GuardContext;
  readonly #createdAt = performance.now();
  #releasePrecise: (() => void) | undefined;
  /** Epoch ms of the last once-a-second check (the beat count is no clock: the idle pace is slower). */
  #captureCheckedAt = 0;
  #graceTimer: NodeJS.Timeout | undefined;
  #closed = false;

  static {
    // The one door to the private state, for src/internal.ts (tests, benchmarks); not part of the package's exports.
    readInternals = (guard) => ({
      routes: guard.#routes,
      stalls: guard.#stalls,
      tracker: guard.#tracker,
      loop: guard.#loop,
      shared: guard.#shared,
      shedTotals: guard.#shedTotals,
      delayHistogram: guard.#delayHistogram,
      threadPool: guard.#threadPool,
      workerPools: guard.#workerPools,
      busy: guard.#busy,
      watchdog: guard.#watchdog,
      onBeat: (lateMs, endedWindow, nowEpochMs) => guard.#onBeat(lateMs, endedWindow, nowEpochMs),
    });
  }

  constructor(options: ResolvedOptions) {
    super();
    this.options = options;
    this.#errors = new ErrorReporter(options.onError, options.logger);
    this.#reportLimit = new ReportLimit(options.reportsPerCulpritPerMinute);
    const reportError = (err: unknown): void => this.#errors.report(err);
    this.#observers = new GuardObservers(reportError);
    this.#routes = new RouteTable(options.maxRoutes);
    this.#stalls = new StallStats(options.recentStalls);
    this.#heartbeat = new Heartbeat(
      options.heartbeatMs,
      this.#shared,
      { onBeat: (lateMs, window, now) => this.#onBeat(lateMs, window, now) },
      { periodMs: options.idleHeartbeatMs, quiet: () => this.#tracker.inFlight === 0 },
    );
    this.#tracker = new RequestTracker(this.#routes, this.#heartbeat, options.precise, ({ record, route }) =>
      this.#pipeline.culpritFinished(record.id, route),
    );
    this.#tracker.victimThresholdMs = options.thresholdMs;
    this.#tracker.blameAfterResponseMs = options.blameAfterResponseMs;
    if (options.busySampleHz > 0) {
      const busy = new BusyTime(this.#routes, this.#tracker, options.busySampleHz, expectedRouteTest(options.expectedBlockingRoutes), () => this.#loop.gcPausesSnapshot());
      this.#busy = busy;
      this.#tracker.busyResolved = (stats, samples) => busy.resolved(stats, samples);
    }
    this.#requestObservers = new RequestObservers((current) => (this.#tracker.observer = current));
    // Delay percentiles from the heartbeat itself: no timer of their own (src/collectors/loop-stats.ts).
    this.#loop = new LoopStats();
    this.#threadPool = new ThreadPoolStats(THREADPOOL_BUCKETS_SECONDS, options.threadPoolProbe && options.threadPoolProbe.intervalMs);
    this.#pipeline = new StallPipeline({ heartbeatMs: options.heartbeatMs, expectedRoute: expectedRouteTest(options.expectedBlockingRoutes) }, {
      gcPauses: () => this.#loop.gcPausesSnapshot(),
      chargeStall: (requestId, ms) => this.#tracker.chargeStall(requestId, ms),
      culprit: (requestId, report) => this.#observers.culprit(requestId, report),
      deliver: (report) => this.#deliver(report),
      samplesUsed: (samples) => this.#observers.samplesUsed(samples),
    });
    this.#context = {
      model: this.#readModel(),
      observe: (observer) => this.#observers.add(observer),
      observeRequests: (observer) => this.#requestObservers.add(observer),
      snapshotSection: (key, read) => void this.#sections.set(key, read),
      emit: (event, ...args) => this.emitSafely(event, ...args),
      reportError,
    };
    // Last: a guard counts as open (for process-wide patches) once nothing here can throw; close() counts it out.
    guardOpened();
  }

  /**
   * Plugs a collector in: it gets the read model and the observers, and is
   * closed with the guard. A factory that throws closes nothing else: the
   * composition closes the guard. Attached to a closed guard, it is closed at once.
   * @internal
   */
  attach<C extends Collector>(factory: (context: GuardContext) => C): C;
  attach<C extends Collector>(factory: (context: GuardContext) => C | undefined): C | undefined;
  attach<C extends Collector>(factory: (context: GuardContext) => C | undefined): C | undefined {
    const collector = factory(this.#context);
    if (collector === undefined) return undefined;
    if (this.#closed) this.#closeCollector(collector);
    else this.#collectors.push(collector);
    return collector;
  }

  /** Starts the heartbeat and the watchdog; the composition calls it once its collectors are attached. @internal */
  start(wiring: StartWiring = {}): void {
    const options = this.options;
    if (options.precise) this.#releasePrecise = enablePrecise();
    this.#heartbeat.start();
    this.#loop.start();
    // Without captures the worker still runs when it serves the metrics endpoint or probes the pool; it just never pauses.
    const poolProbe = this.#threadPool.probeConfig();
    if (options.captureStacks || wiring.metricsServer || poolProbe || this.#busy) {
      this.#watchdog = new Watchdog(
        this.#shared,
        {
          captureAfterMs: options.captureAfterMs,
          resampleMs: Math.max(10, Math.round(options.thresholdMs / 2)),
          maxSamplesPerStall: 16,
          maxStackFrames: options.maxStackFrames,
          probeId: this.#probeId,
          captureStacks: options.captureStacks,
          ...(wiring.metricsServer && { metricsServer: wiring.metricsServer }),
          ...(poolProbe && { poolProbe }),
          ...(this.#busy && { busy: { sinkId: this.#busy.sinkId, sampleHz: this.#busy.sampleHz, shared: this.#busy.shared } }),
        },
        {
          onSamples: (window, samples) => this.#guarded(() => this.#pipeline.samplesArrived(window, samples)),
          onError: (error) => this.reportError(new LoopGuardError('LOOPGUARD_WATCHDOG_FAILED', error.message, { cause: error })),
          onReady: () => this.emitSafely('watchdog:ready'),
          ...(wiring.onWorkerMessage && { onMessage: wiring.onWorkerMessage }),
        },
      );
      this.#watchdog.start();
    }
    this.#updateCaptureAllowed();
    if (options.startupGraceMs > 0) {
      // Allow captures the moment grace ends, not up to a second later: a stall
      // straddling that moment would otherwise be reported without its stack.
      this.#graceTimer = setTimeout(() => this.#updateCaptureAllowed(), options.startupGraceMs + 1);
      this.#graceTimer.unref();
    }
  }

  /**
   * The owner of this guard's request records (`record.owner`), read once by
   * adapters so that telling their own records apart costs one comparison per request.
   * @internal
   */
  get recordOwner(): object {
    return this.#tracker;
  }

  /** Drops a record opened for a request that was then shed: it is not counted anywhere. @internal */
  discardRequest(record: RequestRecord): void {
    this.#tracker.discard(record);
  }

  /** Called by adapters when a request is accepted. Never throws. */
  beginRequest(req: unknown, method: string, routeOf: RouteResolver): RequestRecord {
    return this.#tracker.begin(req, method, routeOf);
  }

  /**
   * Runs `fn` as code that is expected to block (a migration at start, a
   * report built at night): its stalls, including those after its `await`s,
   * are reported with `cause: 'expected'`, left out of the bundled alerts and
   * never shed. Returns what `fn` returns (a promise stays a promise).
   */
  expectBlocking<T>(fn: () => T): T {
    if (typeof fn !== 'function') throw new TypeError(`loopguard: expectBlocking(fn) needs a function, got ${fn === null ? 'null' : typeof fn}`);
    return runExpected(fn);
  }

  /** Recent stalls, per-route totals, delay percentiles and ELU: plain JSON. */
  snapshot(): LoopGuardSnapshot {
    const snapshot: Record<string, unknown> = { ...buildSnapshot(this.#context.model) };
    for (const [key, read] of this.#sections) snapshot[key] = read();
    return snapshot as unknown as LoopGuardSnapshot;
  }

  /**
   * Reports a worker pool's queue and queue wait beside the loop's delay: a
   * piscina instance, or any object with `queueSize`, `maxThreads` and
   * optionally `histogram.waitTime` (`{ p50, p99 }` in ms). The `name` is the
   * `pool` label (at most 10 pools). Returns the function that stops watching.
   */
  watchPool(pool: unknown, options: WatchPoolOptions): () => void {
    return this.#workerPools.watch(pool, options);
  }

  /** @internal The read model collectors get, for the composition's handlers. */
  protected get model(): GuardReadModel {
    return this.#context.model;
  }

  /** How long the loop has been blocked right now, ms. */
  blockedForMs(): number {
    return this.#shared.blockedForMs(epochNow());
  }

  /** The watchdog is connected and can capture stacks (see the 'watchdog:ready' event). */
  get watchdogReady(): boolean {
    return this.#watchdog?.ready ?? false;
  }

  get watchdogRunning(): boolean {
    return this.#watchdog?.running ?? false;
  }

  /** False when created with `enabled: false`: nothing runs and adapters pass requests through. */
  get enabled(): boolean {
    return this.options.enabled;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Stops timers, the worker and observers, and unregisters metrics: the process can exit. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#heartbeat.stop();
    if (this.#graceTimer) clearTimeout(this.#graceTimer);
    this.#watchdog?.close();
    unregisterWindowReader(this.#probeId);
    this.#busy?.close();
    this.#loop.close();
    this.#releasePrecise?.();
    this.#pipeline.close();
    for (const collector of this.#collectors.splice(0)) this.#closeCollector(collector);
    guardClosed();
  }

  /** Reports a runtime problem once per distinct message; never throws. */
  reportError(err: unknown): void {
    this.#errors.report(err);
  }

  /** The heartbeat's listener. */
  #onBeat(lateMs: number, endedWindow: number, nowEpochMs: number): void {
    try {
      this.#delayHistogram.record(lateMs / 1000);
      this.#loop.update(lateMs);
      // Once a second: startup grace ending, a debugger attaching or leaving.
      if (nowEpochMs - this.#captureCheckedAt >= 1000) {
        this.#captureCheckedAt = nowEpochMs;
        this.#updateCaptureAllowed();
      }
      this.#observers.beat(lateMs);
      // Victims whose own timers expired during the stall finish in this same
      // timers phase, before the heartbeat runs: they are counted as they finish.
      const inFlight = this.#tracker.inFlight + this.#tracker.finishedVictims;
      this.#tracker.finishedVictims = 0;
      if (lateMs < this.options.thresholdMs || this.#inGrace()) return;
      const samplesComing = this.#watchdog?.running === true && this.#shared.capturing === endedWindow;
      this.#pipeline.measured({ window: endedWindow, startedAt: nowEpochMs - lateMs, durationMs: lateMs, inFlight }, samplesComing);
    } catch (err) {
      this.reportError(err);
    }
  }

  /** Emits an event; a listener that throws is reported, never thrown back. */
  protected emitSafely<K extends keyof LoopGuardEvents>(event: K, ...args: LoopGuardEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: LoopGuardEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      this.reportError(callbackFailed(`a '${event}' listener`, err));
    }
  }

  #inGrace(): boolean {
    return performance.now() - this.#createdAt < this.options.startupGraceMs;
  }

  #updateCaptureAllowed(): void {
    // A debugger client attached (inspector.url() set) owns pausing; we must not pause under it.
    this.#shared.captureAllowed = this.options.captureStacks && !this.#inGrace() && inspector.url() === undefined;
  }

  /** The guard's state as collectors see it: live views, no copies. */
  #readModel(): GuardReadModel {
    const guard = this;
    return {
      options: this.options,
      delayHistogram: this.#delayHistogram,
      routes: this.#routes,
      stalls: this.#stalls,
      loop: this.#loop,
      shedTotals: this.#shedTotals,
      threadPool: this.#threadPool,
      busy: this.#busy,
      workerPools: () => this.#workerPools.read((err) => this.reportError(err)),
      get requestsInFlight() {
        return guard.#tracker.inFlight;
      },
      get watchdogRunning() {
        return guard.watchdogRunning;
      },
      get isClosed() {
        return guard.#closed;
      },
      blockedForMs: () => this.blockedForMs(),
      inStartupGrace: () => this.#inGrace(),
    };
  }

  #guarded(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.reportError(err);
    }
  }

  #closeCollector(collector: Collector): void {
    try {
      collector.close();
    } catch (err) {
      this.reportError(err);
    }
  }

  #deliver(report: StallReport): void {
    if (this.#closed) return;
    const label =
      report.cause === 'gc' ? ROUTE_GC : report.route === null ? ROUTE_BACKGROUND : this.#routes.labelFor(report.route);
    this.#stalls.record(report, label);
    this.#observers.stall(report, label);
    // Metrics, the snapshot and shedding above see every stall; the reports below are rate-limited per culprit.
    const held = this.#reportLimit.admit(culpritFingerprint(report), report.startedAt);
    if (held < 0) return;
    const delivered: StallReport = held > 0 ? { ...report, suppressed: held } : report;
    const { onStall, logger } = this.options;
    if (onStall) {
      try {
        onStall(delivered);
      } catch (err) {
        this.reportError(callbackFailed('onStall', err));
      }
    }
    if (logger) {
      try {
        logger.warn({ loopguard: delivered }, `event loop stalled ${Math.round(delivered.durationMs)} ms${delivered.route === null ? ` (${delivered.cause})` : ` in ${delivered.method ?? ''} ${delivered.route}`}`);
      } catch (err) {
        this.reportError(callbackFailed('logger.warn', err));
      }
    }
    this.emitSafely('stall', delivered);
  }
}
