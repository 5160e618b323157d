import { EventEmitter } from 'node:events';
import inspector from 'node:inspector';
import { DELAY_BUCKETS_SECONDS, ROUTE_BACKGROUND, ROUTE_GC } from '../catalogue';
import { LoopGuardError } from '../errors';
import { startExporters, type Exporter } from '../exporters/start';
import { MetricsBridge, type MetricsServerAddress } from '../exporters/metrics-bridge';
import { blockedGaugeFamily, metricsHandler, registryOf } from '../exporters/prometheus';
import { resolveOptions, type LoopGuardOptions, type ResolvedOptions } from '../options';
import { Heartbeat, type BeatListener } from '../sampler/heartbeat';
import { LoopStats } from '../sampler/loop-stats';
import { epochNow, SharedState } from '../watchdog/shared-state';
import { Watchdog } from '../watchdog/watchdog';
import { isGcStall, splitStall, type CaptureSample } from './attribution';
import { Histogram } from './histogram';
import { enablePrecise } from './precise';
import type { RequestRecord, RouteResolver } from './request-context';
import { RequestTracker, type FinishedRequest } from './request-tracker';
import { RouteTable } from './routes';
import { buildSnapshot, type LoopGuardSnapshot } from './snapshot';
import { StallStats } from './stall-stats';
import type { ShedChange } from '../shed/decision';
import { createHealthHandler } from '../shed/health';
import { Shedder } from '../shed/shedder';
import { dashboardHandler, type DashboardHandler, type DashboardOptions } from '../view/handler';
import type { StallCause, StallReport } from './stall-report';

/**
 * Follows what an exporter cannot read from cumulative state at collect time
 * (OpenTelemetry histograms take samples one by one; span events need the
 * culprit request). Set by the OpenTelemetry exporter.
 */
export interface GuardObserver {
  /** Each heartbeat: the loop-delay sample just recorded, seconds. */
  beat(delaySeconds: number): void;
  /** A report blaming request `requestId`, as soon as it is made (its route may still be unknown). */
  culprit(requestId: number, report: StallReport): void;
  /** A report delivered (counted, emitted). */
  stall(report: StallReport): void;
  /** The watchdog's samples of one capture have been used, whether or not they made a stall. */
  samplesUsed(samples: readonly CaptureSample[]): void;
}

/** A stall measured by the heartbeat, waiting for the watchdog's samples. */
interface MeasuredStall {
  window: number;
  startedAt: number;
  durationMs: number;
  inFlight: number;
}

/** How long a measured stall waits for the worker's samples before it is reported without them. */
const SAMPLES_TIMEOUT_MS = 2000;
/** A culprit whose route was unknown at capture is reported without it if it has not finished by then. */
const PENDING_ROUTE_TIMEOUT_MS = 30_000;
const FINISHED_CULPRITS_KEPT = 256;

export interface LoopGuardEvents {
  stall: [report: StallReport];
  /** Load shedding changed state or culprits. */
  shed: [change: ShedChange];
  /** Diagnostics: the watchdog worker is watching (after start or a restart). */
  'watchdog:ready': [];
  /** The `metricsServer` endpoint listens (after start or a watchdog restart). */
  'metrics:listening': [address: MetricsServerAddress];
}

/**
 * The framework-neutral guard: owns the heartbeat, the watchdog, the request
 * tracker and the cumulative state exporters read. Adapters call
 * `beginRequest`; everything else happens off the request path.
 */
export class LoopGuard extends EventEmitter<LoopGuardEvents> implements BeatListener {
  readonly options: ResolvedOptions;
  /** Heartbeat delay samples, seconds. */
  readonly delayHistogram = new Histogram(DELAY_BUCKETS_SECONDS);
  readonly routes: RouteTable;
  readonly stalls: StallStats;
  readonly tracker: RequestTracker;
  readonly loop: LoopStats;
  readonly shared = new SharedState();
  /** Requests answered 503 by load shedding, by route label and reason. */
  readonly shedTotals = new Map<string, { route: string; reason: string; count: number }>();
  /** Load shedding, when the `shed` option is on. Adapters test `shedder.active` per request. */
  readonly shedder: Shedder | undefined;
  /** @internal Set by the OpenTelemetry exporter. */
  observer: GuardObserver | undefined = undefined;
  private readonly heartbeat: Heartbeat;
  private readonly watchdog: Watchdog | undefined;
  private readonly metricsBridge: MetricsBridge | undefined;
  private readonly exporters: Exporter[];
  private readonly createdAt = performance.now();
  private readonly awaitingSamples = new Map<number, MeasuredStall>();
  private readonly awaitingRoute = new Map<number, { reports: StallReport[]; timer: NodeJS.Timeout }>();
  private readonly finishedCulprits = new Map<number, string>();
  private readonly reportedErrors = new Set<string>();
  private samplesTimer: NodeJS.Timeout | undefined;
  private releasePrecise: (() => void) | undefined;
  private nextReportId = 1;
  private beats = 0;
  private graceTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(input?: LoopGuardOptions) {
    super();
    const options = resolveOptions(input);
    this.options = options;
    this.routes = new RouteTable(options.maxRoutes);
    this.stalls = new StallStats(options.recentStalls);
    this.heartbeat = new Heartbeat(options.heartbeatMs, this.shared, this);
    this.tracker = new RequestTracker(this.routes, this.heartbeat, options.precise, (finished) => this.culpritFinished(finished));
    this.tracker.victimThresholdMs = options.thresholdMs;
    // Delay percentiles from the heartbeat itself or per loop iteration: no timer of their own.
    this.loop = new LoopStats();
    if (options.shed) {
      this.shedder = new Shedder(options.shed, {
        loop: this.loop,
        routes: this.routes,
        shedTotals: this.shedTotals,
        reportError: (err) => this.reportError(err),
        shedChanged: (change) => this.emitSafely('shed', change),
      });
    }
    // Exporters register first: a clash (same registry, same prefix) throws here, before any timer starts.
    try {
      this.exporters = startExporters(this);
    } catch (err) {
      this.loop.close(); // the only resource taken so far
      throw err;
    }
    if (options.precise) this.releasePrecise = enablePrecise();
    this.heartbeat.start();
    const { metricsServer, prometheus } = options;
    if (metricsServer) {
      this.metricsBridge = new MetricsBridge({
        registry: () => registryOf(this),
        onListening: (address) => this.emitSafely('metrics:listening', address),
        onError: (error) => this.reportError(error),
      });
    }
    // Without captures the worker still runs when it serves the metrics endpoint; it just never pauses.
    if (options.captureStacks || metricsServer) {
      this.watchdog = new Watchdog(
        this.shared,
        {
          captureAfterMs: options.captureAfterMs,
          resampleMs: Math.max(10, Math.round(options.thresholdMs / 2)),
          maxSamplesPerStall: 16,
          maxStackFrames: options.maxStackFrames,
          captureStacks: options.captureStacks,
          ...(metricsServer && prometheus && { metricsServer: { ...metricsServer, blockedGauge: blockedGaugeFamily(prometheus) } }),
        },
        {
          onSamples: (window, samples) => this.samplesArrived(window, samples),
          onError: (error) => this.reportError(new LoopGuardError('LOOPGUARD_WATCHDOG_FAILED', error.message, { cause: error })),
          onReady: () => this.emitSafely('watchdog:ready'),
          onMessage: (message, reply) => this.metricsBridge?.handle(message, reply),
        },
      );
      this.watchdog.start();
    }
    this.updateCaptureAllowed();
    if (options.startupGraceMs > 0) {
      // Allow captures the moment grace ends, not up to a second later: a stall
      // straddling that moment would otherwise be reported without its stack.
      this.graceTimer = setTimeout(() => this.updateCaptureAllowed(), options.startupGraceMs + 1);
      this.graceTimer.unref();
    }
  }

  /** Called by adapters when a request is accepted. Never throws. */
  beginRequest(req: unknown, method: string, routeOf: RouteResolver): RequestRecord {
    return this.tracker.begin(req, method, routeOf);
  }

  /** Recent stalls, per-route totals, delay percentiles and ELU: plain JSON. */
  snapshot(): LoopGuardSnapshot {
    return buildSnapshot(this);
  }

  /**
   * A plain `(req, res)` health handler for load balancers and readiness
   * probes: 200, or 503 while shedding everything; small JSON status.
   */
  healthHandler(): ReturnType<typeof createHealthHandler> {
    return createHealthHandler(this);
  }

  /** The built-in live page as a handler to mount, e.g. `app.use('/loopguard', guard.dashboardHandler())`. */
  dashboardHandler(options?: DashboardOptions): DashboardHandler {
    return dashboardHandler(this, options);
  }

  /** A `(req, res)` handler serving this guard's Prometheus registry, for apps that route `/metrics` themselves. */
  metricsHandler(): ReturnType<typeof metricsHandler> {
    return metricsHandler(this);
  }

  /** Where the `metricsServer` endpoint listens, once it does (see the `'metrics:listening'` event). */
  get metricsServerAddress(): MetricsServerAddress | undefined {
    return this.metricsBridge?.address;
  }

  /** How long the loop has been blocked right now, ms. */
  blockedForMs(): number {
    return this.shared.blockedForMs(epochNow());
  }

  /** The watchdog is connected and can capture stacks (see the 'watchdog:ready' event). */
  get watchdogReady(): boolean {
    return this.watchdog?.ready ?? false;
  }

  get watchdogRunning(): boolean {
    return this.watchdog?.running ?? false;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Stops timers, the worker and observers, and unregisters metrics: the process can exit. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.heartbeat.stop();
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.watchdog?.close();
    this.loop.close();
    this.shedder?.close();
    this.releasePrecise?.();
    if (this.samplesTimer) clearTimeout(this.samplesTimer);
    for (const pending of this.awaitingRoute.values()) clearTimeout(pending.timer);
    this.awaitingRoute.clear();
    this.awaitingSamples.clear();
    for (const exporter of this.exporters) {
      try {
        exporter.close();
      } catch (err) {
        this.reportError(err);
      }
    }
  }

  /** Reports a runtime problem once per distinct message; never throws. */
  reportError(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    const key = `${(error as { code?: string }).code ?? ''}:${error.message}`;
    if (this.reportedErrors.has(key)) return;
    if (this.reportedErrors.size < 100) this.reportedErrors.add(key);
    try {
      if (this.options.onError) this.options.onError(error);
      else process.emitWarning(error.message, { code: (error as { code?: string }).code ?? 'LOOPGUARD_ERROR' });
    } catch {
      // An onError that throws has nowhere left to report to.
    }
  }

  onBeat(lateMs: number, endedWindow: number, nowEpochMs: number): void {
    try {
      this.delayHistogram.record(lateMs / 1000);
      this.observer?.beat(lateMs / 1000);
      this.loop.update(lateMs);
      // Once a second: startup grace ending, a debugger attaching or leaving.
      if (++this.beats % Math.max(1, Math.round(1000 / this.options.heartbeatMs)) === 0) this.updateCaptureAllowed();
      if (this.shedder !== undefined && !this.inGrace()) this.shedder.onBeat(lateMs);
      // Victims whose own timers expired during the stall finish in this same
      // timers phase, before the heartbeat runs: they are counted as they finish.
      const inFlight = this.tracker.inFlight + this.tracker.finishedVictims;
      this.tracker.finishedVictims = 0;
      if (lateMs < this.options.thresholdMs || this.inGrace()) return;
      const stall: MeasuredStall = { window: endedWindow, startedAt: nowEpochMs - lateMs, durationMs: lateMs, inFlight };
      if (this.watchdog?.running && this.shared.capturing === endedWindow) {
        this.awaitingSamples.set(endedWindow, stall);
        this.armSamplesTimeout();
      } else {
        this.finalise(stall, []);
      }
    } catch (err) {
      this.reportError(err);
    }
  }

  private inGrace(): boolean {
    return performance.now() - this.createdAt < this.options.startupGraceMs;
  }

  private updateCaptureAllowed(): void {
    // A debugger client attached (inspector.url() set) owns pausing; we must not pause under it.
    this.shared.captureAllowed = this.options.captureStacks && !this.inGrace() && inspector.url() === undefined;
  }

  private samplesArrived(window: number, samples: CaptureSample[]): void {
    try {
      const stall = this.awaitingSamples.get(window);
      // No stall waiting: the capture was of a block shorter than the threshold.
      if (stall !== undefined) {
        this.awaitingSamples.delete(window);
        this.finalise(stall, samples);
      }
      this.observer?.samplesUsed(samples);
    } catch (err) {
      this.reportError(err);
    }
  }

  private armSamplesTimeout(): void {
    if (this.samplesTimer) return;
    this.samplesTimer = setTimeout(() => {
      this.samplesTimer = undefined;
      const now = epochNow();
      for (const [window, stall] of this.awaitingSamples) {
        if (now - (stall.startedAt + stall.durationMs) < SAMPLES_TIMEOUT_MS) continue;
        this.awaitingSamples.delete(window);
        this.finalise(stall, []);
      }
      if (this.awaitingSamples.size > 0) this.armSamplesTimeout();
    }, SAMPLES_TIMEOUT_MS);
    this.samplesTimer.unref();
  }

  /** Joins the heartbeat's measurement with the watchdog's samples into reports. */
  private finalise(stall: MeasuredStall, samples: readonly CaptureSample[]): void {
    const end = stall.startedAt + stall.durationMs;
    const codeWasSampled = samples.some((s) => s.request !== null);
    // The stall's start is known to within one heartbeat period.
    if (isGcStall(stall.startedAt, end, this.loop.gcPausesSnapshot(), this.options.heartbeatMs * 1.5, codeWasSampled)) {
      this.deliver(this.report(stall.startedAt, stall.durationMs, null, null, 'gc', [], stall.inFlight));
      return;
    }
    for (const segment of splitStall(stall.startedAt, stall.durationMs, samples)) {
      const request = segment.sample?.request ?? null;
      const stack = segment.sample?.stack ?? [];
      if (request === null) {
        this.deliver(this.report(segment.startedAt, segment.durationMs, null, null, 'background', stack, stall.inFlight));
        continue;
      }
      const finishedRoute = this.finishedCulprits.get(request.id);
      const stillInFlight = finishedRoute === undefined;
      if (stillInFlight) this.tracker.chargeStall(request.id, segment.durationMs);
      const victims = Math.max(0, stall.inFlight - (stillInFlight ? 1 : 0));
      const route = request.route ?? finishedRoute ?? null;
      const report = this.report(segment.startedAt, segment.durationMs, route, request.method, 'request', stack, victims);
      this.observer?.culprit(request.id, report);
      if (route === null && stillInFlight) this.awaitRoute(request.id, report);
      else this.deliver(report);
    }
  }

  private report(
    startedAt: number,
    durationMs: number,
    route: string | null,
    method: string | null,
    cause: StallCause,
    stack: StallReport['stack'],
    victims: number,
  ): StallReport {
    return {
      id: this.nextReportId++,
      startedAt: Math.round(startedAt),
      durationMs: Math.round(durationMs * 10) / 10,
      route,
      method,
      cause,
      stack,
      victims,
    };
  }

  /** Blocking before routing (body parsing): the route is known only when the request finishes. */
  private awaitRoute(requestId: number, report: StallReport): void {
    const pending = this.awaitingRoute.get(requestId);
    if (pending) {
      pending.reports.push(report);
      return;
    }
    const timer = setTimeout(() => {
      const late = this.awaitingRoute.get(requestId);
      this.awaitingRoute.delete(requestId);
      for (const r of late?.reports ?? []) this.deliver(r);
    }, PENDING_ROUTE_TIMEOUT_MS);
    timer.unref();
    this.awaitingRoute.set(requestId, { reports: [report], timer });
  }

  private culpritFinished({ record, route }: FinishedRequest): void {
    this.finishedCulprits.set(record.id, route);
    if (this.finishedCulprits.size > FINISHED_CULPRITS_KEPT) {
      this.finishedCulprits.delete(this.finishedCulprits.keys().next().value as number);
    }
    const pending = this.awaitingRoute.get(record.id);
    if (pending === undefined) return;
    clearTimeout(pending.timer);
    this.awaitingRoute.delete(record.id);
    for (const report of pending.reports) this.deliver({ ...report, route });
  }

  private deliver(report: StallReport): void {
    if (this.closed) return;
    const label =
      report.cause === 'gc' ? ROUTE_GC : report.route === null ? ROUTE_BACKGROUND : this.routes.labelFor(report.route);
    this.stalls.record(report, label);
    this.observer?.stall(report);
    // Shedding ranks culprits by the same label the metrics use, never a raw path.
    if (this.shedder !== undefined && report.cause === 'request' && report.route !== null) {
      this.shedder.onStall(label, report.method ?? '', report.durationMs);
    }
    if (this.options.onStall) {
      try {
        this.options.onStall(report);
      } catch (err) {
        this.reportError(new LoopGuardError('LOOPGUARD_CALLBACK_FAILED', `onStall threw: ${(err as Error)?.message ?? err}`, { cause: err }));
      }
    }
    this.emitSafely('stall', report);
  }

  private emitSafely<K extends keyof LoopGuardEvents>(event: K, ...args: LoopGuardEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: LoopGuardEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      this.reportError(new LoopGuardError('LOOPGUARD_CALLBACK_FAILED', `a '${event}' listener threw: ${(err as Error)?.message ?? err}`, { cause: err }));
    }
  }
}

export function createLoopGuard(options?: LoopGuardOptions): LoopGuard {
  return new LoopGuard(options);
}
