/**
 * The composition: the one place that wires a guard's core (src/core/guard.ts:
 * heartbeat, watchdog, request tracker, stall pipeline) to the parts plugged
 * into it (Prometheus and OpenTelemetry exporters, the metrics endpoint's
 * bridge, load shedding, the live page's history, the health handler).
 * `core/` imports nothing from here or from any of those parts; they import
 * core's read model and observer interfaces (src/core/read-model.ts,
 * src/core/observers.ts) and nothing else of it.
 *
 * Adding a collector (an exporter, a view, a sampler of something new):
 * 1. Write it in its own module, as a factory `(context: GuardContext) => Collector | undefined`.
 *    `context.model` is the read model (cumulative state, read at collect
 *    time); `context.observe({ beat, culprit, stall, samplesUsed })` follows
 *    the heartbeat and the stall pipeline; `context.observeRequests(o)` follows
 *    every request (the hot path: O(1), measured); `context.snapshotSection`
 *    adds a field to `snapshot()`; `context.emit` emits a guard event;
 *    `context.reportError` reports a problem once. Return `{ close() }`:
 *    it is called when the guard closes. New events and snapshot fields are
 *    declared beside the collector by declaration merging (see src/shed/plugin.ts).
 * 2. Attach it below with `this.attach(factory)`: in the constructor, before
 *    `start()`, when it must see everything from the start (exporters, so a
 *    registration clash throws before any timer runs), or later and lazily
 *    when only a handler needs it (the live page's history).
 * 3. A metric it exports goes in the catalogue (src/catalogue.ts) first.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GuardCore } from './core/guard';
import { InvalidOptionError, LoopGuardError } from './errors';
import { MetricsBridge, type MetricsServerAddress } from './prometheus/metrics-bridge';
import { INSTALL_PROM_CLIENT } from './prometheus/prom-lib';
import { registerOtel } from './otel/exporter';
import { blockedGaugeFamily, metricsHandler, registerPrometheus, type PrometheusExport } from './prometheus/exporter';
import { resolveOptions, type LoopGuardOptions } from './options';
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

/**
 * A guard: the core plus what the options plug into it. Construct with
 * `createLoopGuard(options)`, or let an adapter make one.
 */
export class LoopGuard extends GuardCore {
  /** `x instanceof LoopGuard` checks the brand, so it holds for a guard from another copy too. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isLoopGuard(value);
  }

  /** @internal */
  get [kLoopGuard](): true {
    return true;
  }

  /** Load shedding, when the `shed` option is on. Adapters test `shedder.active` per request. */
  readonly shedder: Shedder | undefined;
  readonly #prometheus: PrometheusExport | undefined;
  readonly #metricsBridge: MetricsBridge | undefined;
  #history: LoopHistory | undefined;

  constructor(input?: LoopGuardOptions) {
    const options = resolveOptions(input);
    super(options);
    const { prometheus, otel, metricsServer } = options;
    if (!options.enabled) {
      // Off: no exporter registers, nothing starts; adapters see `enabled` and pass requests through.
      this.shedder = undefined;
      this.#prometheus = undefined;
      this.#metricsBridge = undefined;
      return;
    }
    try {
      this.shedder = this.attach((context) => attachShedding(context, options.shed));
      // Exporters register before anything starts: a clash (same registry, same prefix) throws here.
      this.#prometheus = prometheus === false ? undefined : this.attach((context) => registerPrometheus(context, prometheus));
      if (otel !== false) this.attach((context) => registerOtel(context, otel));
    } catch (err) {
      // A guard that fails to construct must not leave series, callbacks or monitors behind.
      this.close();
      throw err;
    }
    const bridge = metricsServer
      ? new MetricsBridge({
          registry: () => this.#prometheus?.registry,
          onListening: (address) => this.emitSafely('metrics:listening', address),
          onError: (error) => this.reportError(error),
        })
      : undefined;
    this.#metricsBridge = bridge;
    this.start({
      ...(metricsServer && prometheus && { metricsServer: { ...metricsServer, blockedGauge: blockedGaugeFamily(prometheus) } }),
      ...(bridge && { onWorkerMessage: (message, reply) => bridge.handle(message, reply) }),
    });
  }

  /**
   * A plain `(req, res)` health handler for load balancers and readiness
   * probes: 200, or 503 while shedding everything; small JSON status.
   */
  healthHandler(): ReturnType<typeof createHealthHandler> {
    const { loop, stalls } = this.model;
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
