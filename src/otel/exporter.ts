import dc from 'node:diagnostics_channel';
import type * as Api from '@opentelemetry/api';
import { STALL_CAUSES, STALL_THREAD_STATES, type LabelName } from '../catalogue';
import type { CaptureSample } from '../contract/messages';
import type { GuardObserver, RequestObserver } from '../core/observers';
import type { GuardContext } from '../collectors/read-model';
import type { Collector } from '../core/collector';
import type { RequestRecord } from '../core/request-context';
import type { RouteStats } from '../core/routes';
import type { StallCause, StallReport } from '../core/stall-report';
import { SpanLinks, type SpanLike } from './span-events';
import { LoopGuardError } from '../errors';
import type { OtelOptions } from './options';
import { attributesOf, createInstruments, METER_NAME, type Instruments } from './instruments';
import { PoolMetrics } from './pool-metrics';
import { SampleQueue } from './sample-queue';
import { OTEL_GLOBAL_METER_CHANGED } from '../contract/channels';
import { THREAD_MAIN } from '../contract/threads';
import { kOtelRpcMetadata } from '../contract/symbols';

type OtelApi = typeof Api;

const RPC_METADATA_KEY = kOtelRpcMetadata;
/** Enough for 400 k requests/s between two heartbeats at the default 20 ms. */
const QUEUE_CAPACITY = 8192;
const CAUSES: readonly StallCause[] = STALL_CAUSES;

/**
 * Published when `loopguard/otel` has registered a global meter provider:
 * exporters on the global meter rebind at once instead of at their next
 * once-a-second check. A named channel rather than a list of exporters: no
 * state kept per guard here, and a second copy of loopguard hears it too.
 */
const GLOBAL_METER_CHANGED = OTEL_GLOBAL_METER_CHANGED;

/** Loads `@opentelemetry/api` if it is installed: it is an optional peer dependency. */
export function loadOtelApi(): OtelApi | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@opentelemetry/api') as OtelApi;
  } catch {
    return undefined;
  }
}

/**
 * Starts OpenTelemetry export for a guard, or returns undefined when there is
 * nothing to export to: no `@opentelemetry/api` installed and no meter given
 * is not an error (most apps have no OTel), so it stays silent.
 */
export function registerOtel(context: GuardContext, options: Readonly<OtelOptions>, api: OtelApi | undefined = loadOtelApi()): Collector | undefined {
  if (api === undefined && options.meter === undefined) return undefined;
  if (api === undefined && options.traces !== false) {
    context.reportError(
      new LoopGuardError('LOOPGUARD_MISSING_PEER', 'loopguard: stall events on traces need @opentelemetry/api (npm install @opentelemetry/api); metrics go to the given meter'),
    );
  }
  return new OtelExporter(context, options, api);
}

/** Rebinds every guard that uses the global meter, e.g. right after an SDK registered one. */
export function refreshGlobalMeters(): void {
  dc.channel(GLOBAL_METER_CHANGED).publish(undefined);
}

/**
 * Counters and gauges are observable instruments read from the guard's
 * cumulative state at collect time (one batch callback). Histograms take
 * samples: loop delay once per heartbeat, stall durations once per stall,
 * request delay per request through a queue the heartbeat drains.
 */
class OtelExporter implements Collector, RequestObserver, GuardObserver {
  private instruments: Instruments | undefined;
  private meter: Api.Meter | undefined;
  private provider: unknown;
  /** False on a no-op meter: nothing queued, nothing recorded. */
  private recording = false;
  private tracing = false;
  private beats = 0;
  private readonly refreshEveryBeats: number;
  /** Made on first bind to a real meter: most processes have the api but no SDK. */
  private queue: SampleQueue<RouteStats> | undefined;
  /** libuv's pool and the watched worker pools, read at collect time. */
  private pools: PoolMetrics | undefined;
  private readonly attributes = new WeakMap<object, Api.Attributes>();
  private readonly causeAttributes = new Map(CAUSES.map((cause) => [cause, attributesOf({ cause })]));
  private readonly stateAttributes = STALL_THREAD_STATES.map((state) => [state, attributesOf({ state })] as const);
  private readonly spans: SpanLinks | undefined;
  private readonly noopMeterClass: unknown;
  private readonly noopTracerProvider: unknown;
  private readonly detach: (() => void)[];
  private readonly onGlobalMeterChanged = (): void => this.refresh();

  constructor(
    private readonly context: GuardContext,
    private readonly options: Readonly<OtelOptions>,
    private readonly api: OtelApi | undefined,
  ) {
    const guardOptions = context.model.options;
    this.refreshEveryBeats = Math.max(1, Math.round(1000 / guardOptions.heartbeatMs));
    this.noopMeterClass = api?.createNoopMeter().constructor;
    this.noopTracerProvider = api === undefined ? undefined : new api.ProxyTracerProvider().getDelegate();
    if (api !== undefined && options.traces !== false) {
      this.spans = new SpanLinks(guardOptions.thresholdMs, (err) => this.fail('adding a span event', err));
    }
    if (options.meter === undefined) dc.subscribe(GLOBAL_METER_CHANGED, this.onGlobalMeterChanged);
    this.refresh();
    this.detach = [context.observe(this), context.observeRequests(this)];
  }

  /** Binds to the current meter (the global one may have been registered since) and rereads the tracer. */
  refresh(): void {
    const api = this.api;
    if (this.options.meter !== undefined) {
      if (this.meter === undefined) this.bind(this.options.meter as Api.Meter);
    } else if (api !== undefined) {
      const provider = api.metrics.getMeterProvider();
      if (provider !== this.provider) {
        this.provider = provider;
        this.bind(provider.getMeter(METER_NAME));
      }
    }
    if (this.spans !== undefined && api !== undefined) {
      const provider = api.trace.getTracerProvider() as Api.TracerProvider & { getDelegate?: () => unknown };
      this.tracing = typeof provider.getDelegate !== 'function' || provider.getDelegate() !== this.noopTracerProvider;
    }
  }

  close(): void {
    if (this.options.meter === undefined) dc.unsubscribe(GLOBAL_METER_CHANGED, this.onGlobalMeterChanged);
    this.unbind();
    this.spans?.close();
    for (const detach of this.detach) detach();
  }

  // ── RequestObserver: the request path ────────────────────────────────────

  begin(): unknown {
    return this.tracing ? this.activeSpan() : undefined;
  }

  /**
   * Runs in the culprit's own context while the main thread is paused. A
   * record opened at node:http's start channel has no span yet (the http
   * instrumentation makes it later, in its patched `emit('request')`): the
   * server span is read here, once per capture, off the request path.
   */
  captured(record: RequestRecord): void {
    if (this.spans === undefined) return;
    if (record.span === undefined && this.tracing) record.span = this.activeSpan();
    this.spans.hold(record);
  }

  finished(record: RequestRecord, stats: RouteStats, waitedMs: number): void {
    if (this.recording) {
      const queue = this.queue!;
      const blockingSeconds = stats.blocking === undefined ? -1 : record.blockingMs / 1000;
      if (!queue.push(stats, waitedMs / 1000, blockingSeconds)) {
        this.drain();
        queue.push(stats, waitedMs / 1000, blockingSeconds);
      }
    }
    const spans = this.spans;
    if (spans !== undefined && waitedMs >= spans.delayedEventMs) {
      // Only victims get here. Without a span from begin (opened at the start
      // channel), the span is read now: the finish channel runs in the
      // request's context, and the server span ends later, at 'close'.
      if (record.span === undefined && this.tracing) record.span = this.activeSpan();
      if (record.span !== undefined) spans.finished(record, waitedMs);
    }
  }

  /** The recording server span of the request whose context is active (instrumentation-http's), else the active span. */
  private activeSpan(): SpanLike | undefined {
    try {
      const context = this.api!.context.active();
      // The server span (from instrumentation-http), not whichever middleware span is active here.
      const rpc = context.getValue(RPC_METADATA_KEY) as { span?: SpanLike } | undefined;
      const span = rpc?.span ?? (this.api!.trace.getSpan(context) as SpanLike | undefined);
      return span !== undefined && span.isRecording() ? span : undefined;
    } catch {
      return undefined;
    }
  }

  // ── GuardObserver: heartbeat and stalls ──────────────────────────────────

  beat(lateMs: number): void {
    if (this.recording) {
      try {
        this.instruments?.histograms.eventloopDelay.record(lateMs / 1000, MAIN_THREAD_ATTRIBUTES);
      } catch (err) {
        this.fail('recording loop delay', err);
      }
      this.drain();
    }
    if (++this.beats % this.refreshEveryBeats === 0) {
      this.refresh();
      this.spans?.sweep();
    }
  }

  culprit(requestId: number, report: StallReport): void {
    this.spans?.culprit(requestId, report);
  }

  stall(report: StallReport): void {
    if (!this.recording) return;
    try {
      this.instruments?.histograms.stallDuration.record(report.durationMs / 1000, this.causeAttributes.get(report.cause));
    } catch (err) {
      this.fail('recording a stall', err);
    }
  }

  samplesUsed(samples: readonly CaptureSample[]): void {
    if (this.spans === undefined || this.spans.heldCount === 0) return;
    this.spans.samplesUsed(samples.flatMap((s) => (s.request === null ? [] : [s.request.id])));
  }

  // ── binding and collection ───────────────────────────────────────────────

  private bind(meter: Api.Meter): void {
    this.unbind();
    try {
      this.instruments = createInstruments(meter);
      meter.addBatchObservableCallback(this.observe, this.instruments.observableList);
      this.meter = meter;
      this.recording = this.noopMeterClass === undefined || !(meter instanceof (this.noopMeterClass as new () => Api.Meter));
      if (this.recording) this.queue ??= new SampleQueue<RouteStats>(QUEUE_CAPACITY);
    } catch (err) {
      this.instruments = undefined;
      this.fail('creating OpenTelemetry instruments', err);
    }
  }

  private unbind(): void {
    if (this.meter !== undefined && this.instruments !== undefined) {
      try {
        this.drain();
        this.meter.removeBatchObservableCallback(this.observe, this.instruments.observableList);
      } catch (err) {
        this.fail('removing OpenTelemetry callbacks', err);
      }
    }
    this.meter = undefined;
    this.instruments = undefined;
    this.recording = false;
  }

  private drain(): void {
    const histograms = this.instruments?.histograms;
    if (histograms === undefined || this.queue === undefined || this.queue.length === 0) return;
    const error = this.queue.drain((stats, delaySeconds, blockingSeconds) => {
      const attributes = this.attributesFor(stats, routeLabels);
      histograms.requestDelay.record(delaySeconds, attributes);
      if (blockingSeconds >= 0) histograms.requestBlocking.record(blockingSeconds, attributes);
    });
    if (error !== undefined) this.fail('recording request delay', error);
  }

  /** Collect time: read the guard's cumulative state into the observable instruments. */
  private readonly observe = (result: Api.BatchObservableResult): void => {
    const instruments = this.instruments;
    if (instruments === undefined) return;
    const { observables: o } = instruments;
    const guard = this.context.model;
    try {
      // Requests finished since the last heartbeat belong in this collection too.
      this.drain();
      result.observe(o.eventloopUtilization, guard.loop.utilization, MAIN_THREAD_ATTRIBUTES);
      for (const t of guard.threads()) {
        if (t.utilization !== null) result.observe(o.eventloopUtilization, t.utilization, this.attributesFor(t, threadLabels));
      }
      result.observe(o.eventloopBlocked, guard.blockedForMs() / 1000);
      result.observe(o.requestsInFlight, guard.requestsInFlight);
      for (const c of guard.stalls.all()) {
        const attributes = this.attributesFor(c, stallLabels);
        result.observe(o.stalls, c.count, attributes);
        result.observe(o.stallSeconds, c.seconds, attributes);
      }
      for (const [state, attributes] of this.stateAttributes) result.observe(o.stallThreadSeconds, guard.stalls.threadSeconds[state], attributes);
      for (const t of guard.busy?.totals() ?? []) result.observe(o.busySeconds, t.seconds, this.attributesFor(t.key, stallLabels));
      for (const s of guard.shedTotals.values()) result.observe(o.requestsShed, s.count, this.attributesFor(s, shedLabels));
      (this.pools ??= new PoolMetrics(guard)).observe(result, instruments);
    } catch (err) {
      this.fail('collecting OpenTelemetry metrics', err);
    }
  };

  /** One frozen attributes object per series, made once: the SDK hashes it on every record. */
  private attributesFor<S extends object>(source: S, labels: (source: S) => Labels): Api.Attributes {
    let attributes = this.attributes.get(source);
    if (attributes === undefined) {
      attributes = attributesOf(labels(source));
      this.attributes.set(source, attributes);
    }
    return attributes;
  }

  private fail(what: string, err: unknown): void {
    this.context.reportError(new LoopGuardError('LOOPGUARD_EXPORT_FAILED', `loopguard: ${what} failed: ${(err as Error)?.message ?? err}`, { cause: err }));
  }
}

type Labels = Partial<Record<LabelName, string>>;
const routeLabels = (s: RouteStats): Labels => ({ route: s.route, method: s.method });
const stallLabels = (c: { route: string; method: string; cause: StallCause; thread?: string }): Labels => ({ route: c.route, method: c.method, cause: c.cause, thread: c.thread });
const threadLabels = (t: { label: string }): Labels => ({ thread: t.label });
/** Worker threads' loop delay reaches OTel only as ELU and stall counters: their delay histogram lives in the main thread's Prometheus series. */
const MAIN_THREAD_ATTRIBUTES: Api.Attributes = Object.freeze(attributesOf({ thread: THREAD_MAIN }));
const shedLabels = (s: { route: string; reason: string }): Labels => ({ route: s.route, reason: s.reason });
