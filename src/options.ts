import { InvalidOptionError } from './errors';
import { boolean, finiteNumber, integer, knownKeys, objectOrFalse, optionalFunction, plainObject } from './validate';
import type { KernelOptions } from './core/kernel-options';
import type { StallReport } from './core/stall-report';
import { resolveShedOptions, type ResolvedShedOptions, type ShedOptions } from './shed/options';
import { compileIgnore } from './routes/ignore';
import { resolveMetricsServer, validatePrometheus, type MetricsServerOptions, type PrometheusOptions } from './prometheus/options';
import { validateOtel, type OtelOptions } from './otel/options';

export type { MetricsServerOptions, OtelOptions, PrometheusOptions };

/** The thread-pool probe (see `loopguard_threadpool_delay_seconds`). */
export interface ThreadPoolProbeOptions {
  /**
   * One trivial job (a one-byte `crypto.randomFill`) per this many
   * milliseconds at most, from the watchdog thread; never a second while one
   * is queued. Under 100 is for tests.
   * @default 1000
   */
  intervalMs?: number;
}

/** What `ignore` accepts: route templates or paths, regular expressions, or a predicate on the raw request. */
export type IgnoreRule = string | RegExp;

/** Anything with pino's `warn(obj, msg)` and `error(obj, msg)`: pino, `fastify.log`, or a console adapter. */
export interface LoopGuardLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface LoopGuardOptions {
  /**
   * False: loopguard does nothing. No worker thread, no timers, no channel
   * subscriptions, no metrics; adapters pass every request straight through.
   * For a kill switch in configuration (`LOOPGUARD_ENABLED=false`).
   * @default true
   */
  enabled?: boolean;
  /**
   * Requests never tracked, counted or blamed (health checks, `/metrics`):
   * paths or route templates matched against the request's path
   * (`'/healthz'`, `'/internal/:probe'`), regular expressions tested against
   * the path, or a function of the raw `IncomingMessage`. A stall inside an
   * ignored request is reported as background. Checked once per request,
   * before anything is recorded.
   * @default none
   */
  ignore?: readonly IgnoreRule[] | ((req: import('node:http').IncomingMessage) => boolean);
  /**
   * Where stall reports (`warn`) and runtime problems (`error`) are logged,
   * as structured objects: pino, `fastify.log` (the Fastify plugin's default),
   * or anything with pino's `warn(obj, msg)` / `error(obj, msg)`.
   * @default none (problems go to `onError`, else `process.emitWarning`)
   */
  logger?: LoopGuardLogger;
  /**
   * At most this many reports a minute for one culprit (its route and top
   * application frame): `onStall`, the `'stall'` event and the logger. The
   * next report delivered carries `suppressed`, how many were held back.
   * Metrics, the snapshot and load shedding still see every stall. 0: no limit.
   * @default 10
   */
  reportsPerCulpritPerMinute?: number;
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
  /** Prometheus export, or `false` for none. @default {} (the installed Prometheus client's default registry) */
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
   * Work that still runs in a request's context after its response finished
   * (a timer it set, the rest of an async handler) is blamed on its route for
   * this many milliseconds after the response, with `afterResponse: true`;
   * later it is background. Bounds how long an interval a request started
   * counts against it. 0: never blame work left behind.
   * @default 10000
   */
  blameAfterResponseMs?: number;
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
  /**
   * Measure how long a trivial job waits in libuv's thread pool, where
   * `fs`, `dns.lookup`, `crypto` and `zlib` work queues, or `false` for no probe.
   * @default { intervalMs: 1000 }
   */
  threadPoolProbe?: ThreadPoolProbeOptions | boolean;
  /**
   * Busy time: how many times a second, on average, the watchdog samples
   * which route's code is running (`loopguard_busy_seconds_total`, the
   * snapshot's `busy`). Each sample costs the main thread ≈ 20 µs; the rate
   * backs off while the loop is idle. 0 turns sampling off.
   * @default 10
   */
  busySampleHz?: number;
  /** Stall reports kept for `snapshot()`. @default 50 */
  recentStalls?: number;
  /** Stack frames kept per report, top first. @default 20 */
  maxStackFrames?: number;
  /**
   * Routes whose blocking is known and accepted (an admin export, a nightly
   * report): route templates, matched exactly (`'/admin/export'`), or regular
   * expressions tested against the template (`/^\/admin\//`). Their stalls
   * are still measured and reported, with `cause: 'expected'`; the bundled
   * alerts leave them out and load shedding never blames them. For code
   * outside routes, wrap it in `guard.expectBlocking(fn)`.
   * @default []
   */
  expectedBlockingRoutes?: readonly (string | RegExp)[];
  /**
   * Receives runtime problems (a throwing callback, a failed export, the
   * watchdog dying); each distinct problem is reported once.
   * @default process.emitWarning
   */
  onError?: (error: Error) => void;
  /**
   * @internal Set by the test-time loop budget (loopguard/test): capture the
   * blocking stack once the loop has been held this long (ms), even below
   * `thresholdMs`, with the heartbeat turned up to measure it. Stalls are
   * still only those of `thresholdMs`.
   */
  captureAtMs?: number;
}

export interface ResolvedOptions extends KernelOptions {
  readonly enabled: boolean;
  /** The compiled `ignore` option: true for a request that must not be tracked; undefined when nothing is ignored. */
  readonly ignore: ((req: import('node:http').IncomingMessage) => boolean) | undefined;
  readonly logger: LoopGuardLogger | undefined;
  readonly reportsPerCulpritPerMinute: number;
  readonly thresholdMs: number;
  readonly onStall: ((report: StallReport) => void) | undefined;
  readonly captureStacks: boolean;
  readonly prometheus: Readonly<PrometheusOptions> | false;
  readonly metricsServer: Readonly<Required<MetricsServerOptions>> | false;
  readonly otel: Readonly<OtelOptions> | false;
  readonly maxRoutes: number;
  readonly startupGraceMs: number;
  readonly blameAfterResponseMs: number;
  readonly precise: boolean;
  readonly shed: ResolvedShedOptions | false;
  readonly threadPoolProbe: Readonly<Required<ThreadPoolProbeOptions>> | false;
  readonly busySampleHz: number;
  readonly recentStalls: number;
  readonly maxStackFrames: number;
  readonly onError: ((error: Error) => void) | undefined;
  readonly expectedBlockingRoutes: readonly (string | RegExp)[];
  /** Heartbeat timer period, derived from thresholdMs. */
  readonly heartbeatMs: number;
  /** Heartbeat period while no request is in flight and beats run on time, derived from thresholdMs. */
  readonly idleHeartbeatMs: number;
  /** How late the heartbeat must be before the watchdog captures a stack. */
  readonly captureAfterMs: number;
  /** @internal See LoopGuardOptions.captureAtMs. */
  readonly captureAtMs: number | undefined;
}

/** Capture probes per stall at most: enough to split back-to-back culprits, bounded for a stall that lasts minutes. */
const MAX_SAMPLES_PER_STALL = 16;

export const DEFAULTS = Object.freeze({
  thresholdMs: 100,
  captureStacks: true,
  maxRoutes: 200,
  startupGraceMs: 1000,
  blameAfterResponseMs: 10_000,
  precise: false,
  busySampleHz: 10,
  recentStalls: 50,
  maxStackFrames: 20,
  threadPoolProbeIntervalMs: 1000,
  reportsPerCulpritPerMinute: 10,
});

const KNOWN: readonly string[] = [
  'enabled', 'ignore', 'logger', 'reportsPerCulpritPerMinute', 'thresholdMs', 'onStall', 'captureStacks', 'prometheus', 'metricsServer', 'otel', 'maxRoutes', 'startupGraceMs', 'blameAfterResponseMs',
  'precise', 'shed', 'threadPoolProbe', 'busySampleHz', 'recentStalls', 'maxStackFrames', 'onError', 'expectedBlockingRoutes', 'captureAtMs',
];

export function resolveOptions(input: LoopGuardOptions | undefined = {}): ResolvedOptions {
  plainObject('options', input);
  knownKeys('', input, KNOWN);
  const thresholdMs = finiteNumber('thresholdMs', input.thresholdMs ?? DEFAULTS.thresholdMs, 1, 600_000);
  // The heartbeat must tick several times per threshold to measure stalls to a
  // few percent, yet rarely enough that an idle process pays well under 1 % of a core.
  const captureAtMs = input.captureAtMs === undefined ? undefined : finiteNumber('captureAtMs', input.captureAtMs, 1, 600_000);
  const heartbeatMs = Math.min(200, Math.max(5, Math.round(Math.min(thresholdMs, captureAtMs ?? Infinity) / 4)));
  const prometheus = objectOrFalse('prometheus', input.prometheus, validatePrometheus);
  // The worker watches the main thread's scheduler for 10 ms before it pauses
  // (watchdog/worker.ts) and its timers run late on a busy machine: asked this
  // early, the pause lands while a block of about the budget is still running.
  // Captures of shorter blocks cost them nothing: the pause's time is taken off.
  const captureAfterMs = Math.min(Math.max(heartbeatMs, Math.round(thresholdMs / 2)), Math.max(heartbeatMs, Math.round((captureAtMs ?? Infinity) / 2) - 5));
  return Object.freeze({
    enabled: boolean('enabled', input.enabled ?? true),
    ignore: compileIgnore(input.ignore),
    logger: logger(input.logger),
    reportsPerCulpritPerMinute: integer('reportsPerCulpritPerMinute', input.reportsPerCulpritPerMinute ?? DEFAULTS.reportsPerCulpritPerMinute, 0, 100_000),
    thresholdMs,
    onStall: optionalFunction<(report: StallReport) => void>('onStall', input.onStall),
    captureStacks: boolean('captureStacks', input.captureStacks ?? DEFAULTS.captureStacks),
    prometheus,
    metricsServer: resolveMetricsServer(input.metricsServer, prometheus !== false),
    otel: objectOrFalse<OtelOptions>('otel', input.otel, validateOtel),
    maxRoutes: integer('maxRoutes', input.maxRoutes ?? DEFAULTS.maxRoutes, 1, 100_000),
    startupGraceMs: finiteNumber('startupGraceMs', input.startupGraceMs ?? DEFAULTS.startupGraceMs, 0, 3_600_000),
    blameAfterResponseMs: finiteNumber('blameAfterResponseMs', input.blameAfterResponseMs ?? DEFAULTS.blameAfterResponseMs, 0, 86_400_000),
    precise: boolean('precise', input.precise ?? DEFAULTS.precise),
    shed: resolveShedOptions(input.shed, thresholdMs),
    threadPoolProbe: threadPoolProbe(input.threadPoolProbe),
    busySampleHz: finiteNumber('busySampleHz', input.busySampleHz ?? DEFAULTS.busySampleHz, 0, 1000),
    recentStalls: integer('recentStalls', input.recentStalls ?? DEFAULTS.recentStalls, 0, 10_000),
    maxStackFrames: integer('maxStackFrames', input.maxStackFrames ?? DEFAULTS.maxStackFrames, 1, 200),
    onError: optionalFunction<(error: Error) => void>('onError', input.onError),
    expectedBlockingRoutes: expectedRoutes(input.expectedBlockingRoutes),
    heartbeatMs,
    captureAfterMs,
    // Idle, the heartbeat slows so that a stall with no request is still caught by
    // the time it has lasted twice the threshold (idle period + capture delay), and
    // an idle process wakes a few times a second instead of forty (src/core/heartbeat.ts).
    idleHeartbeatMs: Math.max(heartbeatMs, Math.min(1000, 2 * thresholdMs - captureAfterMs)),
    maxSamplesPerStall: MAX_SAMPLES_PER_STALL,
    captureAtMs,
  });
}

function logger(value: unknown): LoopGuardLogger | undefined {
  if (value === undefined) return undefined;
  const candidate = value as Partial<LoopGuardLogger> | null;
  if (candidate === null || typeof candidate !== 'object' || typeof candidate.warn !== 'function' || typeof candidate.error !== 'function') {
    throw new InvalidOptionError('logger', "a logger with pino's warn(obj, msg) and error(obj, msg) methods (pino, fastify.log)", value);
  }
  return candidate as LoopGuardLogger;
}

function expectedRoutes(value: unknown): readonly (string | RegExp)[] {
  if (value === undefined) return Object.freeze([]);
  if (!Array.isArray(value)) throw new InvalidOptionError('expectedBlockingRoutes', "an array of route templates and regular expressions, e.g. ['/admin/export', /^\\/reports\\//]", value);
  return Object.freeze(
    value.map((route, i) => {
      // A copy without g/y: a stateful lastIndex would make every other test fail.
      if (route instanceof RegExp) return new RegExp(route.source, route.flags.replace(/[gy]/g, ''));
      if (typeof route === 'string' && route.startsWith('/')) return route;
      throw new InvalidOptionError(`expectedBlockingRoutes[${i}]`, "a route template starting with '/' or a RegExp", route);
    }),
  );
}

function threadPoolProbe(value: unknown): Readonly<Required<ThreadPoolProbeOptions>> | false {
  const probe = objectOrFalse<ThreadPoolProbeOptions>('threadPoolProbe', value === true ? {} : value, (v) => {
    knownKeys('threadPoolProbe', v, ['intervalMs']);
    return v;
  });
  if (probe === false) return false;
  return Object.freeze({ intervalMs: integer('threadPoolProbe.intervalMs', probe.intervalMs ?? DEFAULTS.threadPoolProbeIntervalMs, 10, 60_000) });
}

