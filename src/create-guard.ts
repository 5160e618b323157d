/**
 * The public guard: `LoopGuard` is the framework-neutral object adapters and
 * users hold. It composes its parts (src/compose.ts: the kernel and what
 * accumulates around it), attaches the consumers its options ask for
 * (load shedding, the Prometheus and OpenTelemetry exporters, the metrics
 * endpoint's bridge, the live page's history), then starts the kernel.
 * It owns no state of its own beyond those handles.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EventEmitter } from 'node:events';
import { composeGuard, type GuardParts } from './compose';
import type { GuardContext, GuardReadModel } from './collectors/read-model';
import type { LoopGuardSnapshot } from './collectors/snapshot';
import type { WatchPoolOptions } from './collectors/worker-pools';
import type { LoopGuardEvents } from './core/events';
import { runExpected } from './core/expected';
import { isTaskName, MAX_TASK_NAME } from './core/task-context';
import type { Collector } from './core/collector';
import { callbackFailed } from './core/report-errors';
import type { RequestRecord, RouteResolver } from './core/request-context';
import { InvalidOptionError, LoopGuardError } from './errors';
import { MetricsBridge, type MetricsServerAddress } from './prometheus/metrics-bridge';
import { INSTALL_PROM_CLIENT } from './prometheus/prom-lib';
import { registerOtel } from './otel/exporter';
import { blockedGaugeFamily, metricsHandler, registerPrometheus, type PrometheusExport } from './prometheus/exporter';
import { resolveOptions, type LoopGuardOptions, type ResolvedOptions } from './options';
import { createHealthHandler } from './shed/health';
import { attachShedding } from './shed/plugin';
import type { Shedder } from './shed/shedder';
import type { LoopHistory } from './view/history';
import { attachHistory, createDashboardHandler, type DashboardHandler, type DashboardOptions } from './view/handler';
import { kGuard } from './contract/symbols';

/**
 * The brand of a guard, a registry symbol: a guard made by another copy of
 * loopguard in the same process (two versions in node_modules) carries the
 * same one, where `instanceof` against one copy's class would say no.
 */
const kLoopGuard = kGuard;

/** Whether `value` is a guard, from this copy of loopguard or another one. */
export function isLoopGuard(value: unknown): value is LoopGuard {
  return typeof value === 'object' && value !== null && (value as { [kLoopGuard]?: unknown })[kLoopGuard] === true;
}

let readParts: (guard: LoopGuard) => GuardParts;

/**
 * A guard: the core plus what the options plug into it. Construct with
 * `createLoopGuard(options)`, or let an adapter make one.
 */
export class LoopGuard extends EventEmitter<LoopGuardEvents> {
  /** `x instanceof LoopGuard` checks the brand, so it holds for a guard from another copy too. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isLoopGuard(value);
  }

  /** @internal */
  get [kLoopGuard](): true {
    return true;
  }

  readonly options: ResolvedOptions;
  /** Load shedding, when the `shed` option is on. Adapters test `shedder.active` per request. */
  readonly shedder: Shedder | undefined;
  readonly #parts: GuardParts;
  readonly #prometheus: PrometheusExport | undefined;
  readonly #metricsBridge: MetricsBridge | undefined;
  #history: LoopHistory | undefined;

  static {
    // The one door to the parts, for src/internal.ts (tests, benchmarks); not part of the package's exports.
    readParts = (guard) => guard.#parts;
  }

  constructor(input?: LoopGuardOptions) {
    super();
    const options = resolveOptions(input);
    this.options = options;
    this.#parts = composeGuard(options, (event, ...args) => this.#emitSafely(event, ...args));
    const { prometheus, otel, metricsServer } = options;
    if (!options.enabled) {
      // Off: no exporter registers, nothing starts; adapters see `enabled` and pass requests through.
      this.shedder = undefined;
      this.#prometheus = undefined;
      this.#metricsBridge = undefined;
      return;
    }
    try {
      this.shedder = this.attach((context) => attachShedding(context, options.shed, this.#parts.shedTotals));
      // Exporters register before anything starts: a clash (same registry, same prefix) throws here.
      this.#prometheus = prometheus === false ? undefined : this.attach((context) => registerPrometheus(context, prometheus));
      if (otel !== false) this.attach((context) => registerOtel(context, otel));
    } catch (err) {
      // A guard that fails to construct must not leave series, callbacks or monitors behind.
      this.close();
      throw err;
    }
    if (metricsServer) {
      const bridge = new MetricsBridge({
        registry: () => this.#prometheus?.registry,
        onListening: (address) => this.#emitSafely('metrics:listening', address),
        onError: (error) => this.reportError(error),
      });
      this.#metricsBridge = bridge;
      this.#parts.kernel.attach({
        ...(prometheus && { worker: { metricsServer: { ...metricsServer, blockedGauge: blockedGaugeFamily(prometheus) } } }),
        onWorkerMessage: (message, reply) => bridge.handle(message, reply),
        close: () => undefined,
      });
    } else {
      this.#metricsBridge = undefined;
    }
    this.#parts.kernel.start();
  }

  /**
   * Plugs a consumer in: it gets the read model and the observers, and is
   * closed with the guard. A factory that throws closes nothing else: the
   * caller closes the guard. Attached to a closed guard, it is closed at once.
   * @internal
   */
  attach<C extends Collector>(factory: (context: GuardContext) => C): C;
  attach<C extends Collector>(factory: (context: GuardContext) => C | undefined): C | undefined;
  attach<C extends Collector>(factory: (context: GuardContext) => C | undefined): C | undefined {
    const collector = factory(this.#parts.context);
    return collector === undefined ? undefined : this.#parts.kernel.attach(collector);
  }

  /**
   * The owner of this guard's request records (`record.owner`), read once by
   * adapters so that telling their own records apart costs one comparison per request.
   * @internal
   */
  get recordOwner(): object {
    return this.#parts.kernel.tracker;
  }

  /** Drops a record opened for a request that was then shed: it is not counted anywhere. @internal */
  discardRequest(record: RequestRecord): void {
    this.#parts.kernel.tracker.discard(record);
  }

  /** Called by adapters when a request is accepted. Never throws. */
  beginRequest(req: unknown, method: string, routeOf: RouteResolver): RequestRecord {
    return this.#parts.kernel.tracker.begin(req, method, routeOf);
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

  /**
   * Runs `fn` as one pool task named `name` (a hand-made `worker_threads`
   * pool, a job queue): its stalls, including those after its `await`s, are
   * reported with `cause: 'task'` and the name as their `route`, with stack
   * and advice. The name is a label value: fixed in the code (never built
   * from the task's data), 1–64 characters; names count against `maxRoutes`.
   * Returns what `fn` returns (a promise stays a promise). piscina's tasks
   * need no call: a watched piscina worker names them `<file>#<export>`.
   */
  task<T>(name: string, fn: () => T): T {
    if (!isTaskName(name)) throw new InvalidOptionError('name', `a task name of 1–${MAX_TASK_NAME} characters without control characters`, name);
    if (typeof fn !== 'function') throw new InvalidOptionError('fn', 'a function', fn);
    if (!this.options.enabled || this.isClosed) return fn();
    return this.#parts.kernel.runTask(name, fn);
  }

  /** Recent stalls, per-route totals, delay percentiles and ELU: plain JSON. */
  snapshot(): LoopGuardSnapshot {
    return this.#parts.snapshot();
  }

  /**
   * Reports a worker pool's queue and queue wait beside the loop's delay: a
   * piscina instance, or any object with `queueSize`, `maxThreads` and
   * optionally `histogram.waitTime` (`{ p50, p99 }` in ms). The `name` is the
   * `pool` label (at most 10 pools). Returns the function that stops watching.
   */
  watchPool(pool: unknown, options: WatchPoolOptions): () => void {
    return this.#parts.workerPools.watch(pool, options);
  }

  /** How long the loop has been blocked right now, ms. */
  blockedForMs(): number {
    return this.#parts.kernel.blockedForMs();
  }

  /** The watchdog is connected and can capture stacks (see the 'watchdog:ready' event). */
  get watchdogReady(): boolean {
    return this.#parts.kernel.watchdog?.ready ?? false;
  }

  get watchdogRunning(): boolean {
    return this.#parts.kernel.watchdog?.running ?? false;
  }

  /** False when created with `enabled: false`: nothing runs and adapters pass requests through. */
  get enabled(): boolean {
    return this.options.enabled;
  }

  get isClosed(): boolean {
    return this.#parts.kernel.isClosed;
  }

  /** Stops timers, the worker and observers, and unregisters metrics: the process can exit. */
  close(): void {
    this.#parts.kernel.close();
  }

  /** Reports a runtime problem once per distinct message; never throws. */
  reportError(err: unknown): void {
    this.#parts.kernel.errors.report(err);
  }

  /**
   * A plain `(req, res)` health handler for load balancers and readiness
   * probes: 200, or 503 while shedding everything; small JSON status.
   */
  healthHandler(): ReturnType<typeof createHealthHandler> {
    const { loop, stalls } = this.#model;
    return createHealthHandler({ shedder: this.shedder, loop, stalls, reportError: (err) => this.reportError(err) });
  }

  /** The built-in live page as a handler to mount, e.g. `app.use('/loopguard', guard.dashboardHandler())`. */
  dashboardHandler(options?: DashboardOptions): DashboardHandler {
    // One history per guard, however many mounts: it starts now, so the chart has data before anyone opens it.
    this.#history ??= this.attach(attachHistory);
    return createDashboardHandler(this, this.#history, options);
  }

  /** A `(req, res)` handler serving this guard's Prometheus registry, for apps that route `/metrics` themselves. */
  metricsHandler(): (req: IncomingMessage, res: ServerResponse) => void {
    if (this.#prometheus === undefined) {
      if (this.options.prometheus === false) throw new InvalidOptionError('prometheus', 'enabled (an object) to use metricsHandler()', false);
      throw new LoopGuardError('LOOPGUARD_MISSING_PEER', `loopguard: metricsHandler() needs a Prometheus client (${INSTALL_PROM_CLIENT})`);
    }
    return metricsHandler(this.#prometheus.registry, (err) => this.reportError(err));
  }

  /** Where the `metricsServer` endpoint listens, once it does (see the `'metrics:listening'` event). */
  get metricsServerAddress(): MetricsServerAddress | undefined {
    return this.#metricsBridge?.address;
  }

  get #model(): GuardReadModel {
    return this.#parts.model;
  }

  /** Emits an event; a listener that throws is reported, never thrown back. */
  #emitSafely<K extends keyof LoopGuardEvents>(event: K, ...args: LoopGuardEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: LoopGuardEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      this.reportError(callbackFailed(`a '${event}' listener`, err));
    }
  }
}

/** A guard's parts: reached only through src/internal.ts, which the package does not export. */
export function guardParts(guard: LoopGuard): GuardParts {
  return readParts(guard);
}

export function createLoopGuard(options?: LoopGuardOptions): LoopGuard {
  return new LoopGuard(options);
}

/**
 * The built-in live page of `guard`, e.g. `app.use('/loopguard', dashboardHandler(guard))`;
 * the same as `guard.dashboardHandler(options)`.
 */
export function dashboardHandler(guard: LoopGuard, options?: DashboardOptions): DashboardHandler {
  return guard.dashboardHandler(options);
}
