import { InvalidOptionError } from './errors';
import { boolean, finiteNumber, integer, knownKeys, objectOrFalse, optionalFunction, plainObject } from './validate';
import type { StallReport } from './core/stall-report';
import { resolveShedOptions, type ResolvedShedOptions, type ShedOptions } from './shed/options';

/** Where loopguard registers its Prometheus series. */
export interface PrometheusOptions {
  /** A prom-client `Registry`. @default prom-client's default `register` */
  registry?: unknown;
  /** Prefix of every metric name. @default 'loopguard_' */
  prefix?: string;
}

/**
 * A `/metrics` endpoint served by the watchdog worker thread, so it answers
 * while the main thread is blocked. Binds loopback unless told otherwise: it
 * has no authentication of its own.
 */
export interface MetricsServerOptions {
  /** TCP port; 0 picks a free one (see the `'metrics:listening'` event). */
  port: number;
  /** Interface to bind. @default '127.0.0.1' */
  host?: string;
  /** Path that serves the exposition; other paths answer 404. @default '/metrics' */
  path?: string;
  /**
   * How long a scrape waits for a fresh exposition from the main thread
   * before serving the last one it gave, with live values from the worker.
   * @default 50
   */
  mainThreadTimeoutMs?: number;
}

/** Where loopguard records its OpenTelemetry instruments. */
export interface OtelOptions {
  /**
   * An `@opentelemetry/api` `Meter`.
   * @default the global meter `metrics.getMeter('loopguard')`, bound again if an SDK registers later
   */
  meter?: unknown;
  /**
   * Add `loopguard.stall` events to the culprit request's span and
   * `loopguard.delayed` events to spans of requests that waited at least
   * `thresholdMs`. Needs a registered tracer (e.g. instrumentation-http); creates no spans.
   * @default true
   */
  traces?: boolean;
}

export interface LoopGuardOptions {
  /**
   * A stall is the loop not turning for at least this long, in milliseconds.
   * The heartbeat and the watchdog scale their intervals from it.
   * @default 100
   */
  thresholdMs?: number;
  /** Called with each `StallReport` (also emitted as the `'stall'` event). */
  onStall?: (report: StallReport) => void;
  /**
   * Pause the main thread through the inspector during a stall to read the
   * blocking stack and the culprit request. Off: stalls are still measured,
   * attributed to the route only when the culprit can be seen without a capture.
   * @default true
   */
  captureStacks?: boolean;
  /** Prometheus export, or `false` for none. @default {} (prom-client's default registry) */
  prometheus?: PrometheusOptions | false;
  /**
   * Serve the Prometheus registry from the watchdog worker thread, e.g.
   * `{ port: 9464 }`. Needs `prometheus` export. @default false
   */
  metricsServer?: MetricsServerOptions | false;
  /** OpenTelemetry export, or `false` for none. @default {} (global meter; a no-op without an SDK) */
  otel?: OtelOptions | false;
  /**
   * Most distinct route templates tracked; more are counted as `(overflow)`.
   * Caps label cardinality whatever the traffic.
   * @default 200
   */
  maxRoutes?: number;
  /** Stalls in this many milliseconds after creation (module loading, warm-up) are not reported. @default 1000 */
  startupGraceMs?: number;
  /**
   * Time every async callback (async_hooks) to record each request's own
   * synchronous time, including blocking under the threshold. Costs ≈10 % req/s on Node 20.
   * @default false
   */
  precise?: boolean;
  /**
   * Load shedding: 503 + `Retry-After` under event-loop, ELU or heap pressure,
   * culprit routes first. `true` takes every default. @default false
   */
  shed?: ShedOptions | boolean;
  /** Stall reports kept for `snapshot()`. @default 50 */
  recentStalls?: number;
  /** Stack frames kept per report, top first. @default 20 */
  maxStackFrames?: number;
  /**
   * Receives runtime problems (a throwing callback, a failed export, the
   * watchdog dying); each distinct problem is reported once.
   * @default process.emitWarning
   */
  onError?: (error: Error) => void;
}

export interface ResolvedOptions {
  readonly thresholdMs: number;
  readonly onStall: ((report: StallReport) => void) | undefined;
  readonly captureStacks: boolean;
  readonly prometheus: Readonly<PrometheusOptions> | false;
  readonly metricsServer: Readonly<Required<MetricsServerOptions>> | false;
  readonly otel: Readonly<OtelOptions> | false;
  readonly maxRoutes: number;
  readonly startupGraceMs: number;
  readonly precise: boolean;
  readonly shed: ResolvedShedOptions | false;
  readonly recentStalls: number;
  readonly maxStackFrames: number;
  readonly onError: ((error: Error) => void) | undefined;
  /** Heartbeat timer period, derived from thresholdMs. */
  readonly heartbeatMs: number;
  /** How late the heartbeat must be before the watchdog captures a stack. */
  readonly captureAfterMs: number;
}

export const DEFAULTS = Object.freeze({
  thresholdMs: 100,
  captureStacks: true,
  maxRoutes: 200,
  startupGraceMs: 1000,
  precise: false,
  recentStalls: 50,
  maxStackFrames: 20,
});

const KNOWN: readonly string[] = [
  'thresholdMs', 'onStall', 'captureStacks', 'prometheus', 'metricsServer', 'otel', 'maxRoutes', 'startupGraceMs',
  'precise', 'shed', 'recentStalls', 'maxStackFrames', 'onError',
];

export function resolveOptions(input: LoopGuardOptions | undefined = {}): ResolvedOptions {
  plainObject('options', input);
  knownKeys('', input, KNOWN);
  const thresholdMs = finiteNumber('thresholdMs', input.thresholdMs ?? DEFAULTS.thresholdMs, 1, 600_000);
  // The heartbeat must tick several times per threshold to measure stalls to a
  // few percent, yet rarely enough that an idle process pays well under 1 % of a core.
  const heartbeatMs = Math.min(200, Math.max(5, Math.round(thresholdMs / 4)));
  const prometheus = objectOrFalse('prometheus', input.prometheus, validatePrometheus);
  return Object.freeze({
    thresholdMs,
    onStall: optionalFunction<(report: StallReport) => void>('onStall', input.onStall),
    captureStacks: boolean('captureStacks', input.captureStacks ?? DEFAULTS.captureStacks),
    prometheus,
    metricsServer: metricsServer(input.metricsServer, prometheus !== false),
    otel: objectOrFalse<OtelOptions>('otel', input.otel, validateOtel),
    maxRoutes: integer('maxRoutes', input.maxRoutes ?? DEFAULTS.maxRoutes, 1, 100_000),
    startupGraceMs: finiteNumber('startupGraceMs', input.startupGraceMs ?? DEFAULTS.startupGraceMs, 0, 3_600_000),
    precise: boolean('precise', input.precise ?? DEFAULTS.precise),
    shed: resolveShedOptions(input.shed, thresholdMs),
    recentStalls: integer('recentStalls', input.recentStalls ?? DEFAULTS.recentStalls, 0, 10_000),
    maxStackFrames: integer('maxStackFrames', input.maxStackFrames ?? DEFAULTS.maxStackFrames, 1, 200),
    onError: optionalFunction<(error: Error) => void>('onError', input.onError),
    heartbeatMs,
    captureAfterMs: Math.max(heartbeatMs, Math.round(thresholdMs / 2)),
  });
}

function validatePrometheus(value: PrometheusOptions): PrometheusOptions {
  knownKeys('prometheus', value, ['registry', 'prefix']);
  if (value.prefix !== undefined && (typeof value.prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(value.prefix))) {
    throw new InvalidOptionError('prometheus.prefix', 'a valid Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)', value.prefix);
  }
  if (value.registry !== undefined && (value.registry === null || typeof (value.registry as { registerMetric?: unknown }).registerMetric !== 'function')) {
    throw new InvalidOptionError('prometheus.registry', 'a prom-client Registry', value.registry);
  }
  return value;
}

function metricsServer(value: unknown, prometheus: boolean): Readonly<Required<MetricsServerOptions>> | false {
  if (value === undefined || value === false) return false;
  const input = plainObject<MetricsServerOptions>('metricsServer', value, 'an object such as { port: 9464 }, or false');
  if (!prometheus) throw new InvalidOptionError('metricsServer', 'false when `prometheus: false` (it serves the Prometheus registry)', value);
  knownKeys('metricsServer', input, ['port', 'host', 'path', 'mainThreadTimeoutMs']);
  const host = input.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host.length === 0) throw new InvalidOptionError('metricsServer.host', 'a non-empty string', host);
  const path = input.path ?? '/metrics';
  if (typeof path !== 'string' || !/^\/[^?#\s]*$/.test(path)) throw new InvalidOptionError('metricsServer.path', 'a path starting with / (no query)', path);
  return Object.freeze({
    port: integer('metricsServer.port', input.port, 0, 65_535),
    host,
    path,
    mainThreadTimeoutMs: finiteNumber('metricsServer.mainThreadTimeoutMs', input.mainThreadTimeoutMs ?? 50, 1, 10_000),
  });
}

function validateOtel(value: OtelOptions): OtelOptions {
  knownKeys('otel', value, ['meter', 'traces']);
  const meter = value.meter as Record<string, unknown> | null | undefined;
  if (meter !== undefined && (meter === null || typeof meter.createHistogram !== 'function' || typeof meter.addBatchObservableCallback !== 'function')) {
    throw new InvalidOptionError('otel.meter', 'an @opentelemetry/api Meter', value.meter);
  }
  if (value.traces !== undefined) boolean('otel.traces', value.traces);
  return value;
}
