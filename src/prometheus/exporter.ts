import { CATALOGUE, DEFAULT_PREFIX, metricByKey, type MetricDefinition, type MetricKey } from '../catalogue';
import { THREAD_MAIN } from '../contract/threads';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Histogram } from '../core/histogram';
import type { GuardContext, GuardReadModel } from '../collectors/read-model';
import type { Collector } from '../core/collector';
import { LoopGuardError } from '../errors';
import type { PrometheusOptions } from './options';
import type { MetricJson } from '../contract/messages';
import { defaultPromClient, INSTALL_PROM_CLIENT } from './prom-lib';

type Labels = Record<string, string | number>;
interface Sample {
  labels: Labels;
  value: number;
  metricName?: string;
}

/** The shape prom-client's Registry reads from a metric (`registerMetric` + `get()`). */
interface PromMetric {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  get(): { name: string; help: string; type: string; aggregator: string; values: Sample[] };
}

/** The parts of a `Registry` we use; prom-client's and @prometheus-io/client's have them all. */
export interface PromRegistry {
  registerMetric(metric: PromMetric): void;
  removeSingleMetric(name: string): void;
  getSingleMetric(name: string): unknown;
  metrics(): Promise<string>;
  getMetricsAsJSON(): Promise<MetricJson[]>;
  readonly contentType: string;
}

/** A guard's series in one registry; the registry also serves `metricsHandler()` and the worker's endpoint. */
export interface PrometheusExport extends Collector {
  readonly registry: PromRegistry;
}

/** The blocked-seconds family as the worker needs it to set the live value: name, help, type, aggregator. */
export function blockedGaugeFamily(options: Readonly<PrometheusOptions>): Omit<MetricJson, 'values'> {
  const def = metricByKey('eventloopBlocked');
  return { name: (options.prefix ?? DEFAULT_PREFIX) + def.name, help: def.help, type: def.type, aggregator: def.aggregator };
}

/**
 * Registers one prom-client metric per catalogue entry. Values are computed
 * at collect time from the guard's cumulative state: nothing resets on
 * scrape, so any number of scrapers see the same monotonic series.
 *
 * A registry holds one guard's series per prefix: a second guard on the same
 * registry and prefix throws LOOPGUARD_ALREADY_REGISTERED at construction
 * rather than silently double-reporting or shadowing the first. Several
 * mounts share one guard; `close()` unregisters, so a new guard can follow.
 *
 * The default registry is the exception: two guards land there without
 * anyone choosing it (the zero-code start beside an app that mounts its own
 * `loopGuard()`), and an app's start must not break over it. There the second
 * guard shares the registry, exports none of its own series there, and says
 * so once through `onError`.
 */
export function registerPrometheus(context: GuardContext, options: Readonly<PrometheusOptions>): PrometheusExport | undefined {
  const registry = (options.registry ?? defaultRegistry(context.reportError)) as PromRegistry | undefined;
  if (registry === undefined) return undefined;
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const names = CATALOGUE.map((def) => prefix + def.name);
  const taken = names.find((name) => registry.getSingleMetric(name) !== undefined);
  if (taken !== undefined && options.registry === undefined) {
    context.reportError(
      new LoopGuardError(
        'LOOPGUARD_ALREADY_REGISTERED',
        `loopguard: metric ${taken} is already in the default Prometheus registry (another guard, e.g. the zero-code start): ` +
          "this guard's series are not exported there; the registry keeps the first guard's. " +
          'Pass one guard to every adapter, or give this one its own `prometheus: { registry }` or `prometheus: { prefix }`.',
      ),
    );
    return { registry, close() {} };
  }
  if (taken !== undefined) {
    throw new LoopGuardError(
      'LOOPGUARD_ALREADY_REGISTERED',
      `loopguard: metric ${taken} is already registered in this prom-client registry. ` +
        'Share one guard between mounts (pass the guard to every adapter), close() the previous guard, ' +
        'or give this one its own `prometheus: { registry }` or `prometheus: { prefix }`.',
    );
  }
  const collectors = CATALOGUE.map((def) => collector(context, def, prefix + def.name));
  for (const metric of collectors) registry.registerMetric(metric);
  return {
    registry,
    close() {
      // Only our own: a metric registered under the name after we left is someone else's.
      // By the registered name: an OpenMetrics registry renames counters on the metric object.
      collectors.forEach((metric, i) => {
        if (registry.getSingleMetric(names[i]!) === metric) registry.removeSingleMetric(names[i]!);
      });
    },
  };
}

/**
 * A plain `(req, res)` handler that serves the guard's whole registry (with
 * any other metrics the app registered there) in the registry's content type.
 * It runs on the main thread: while the loop is blocked it cannot answer;
 * `metricsServer` can.
 */
export function metricsHandler(registry: PromRegistry, reportError: (err: unknown) => void): (req: IncomingMessage, res: ServerResponse) => void {
  return function loopGuardMetricsHandler(req, res) {
    const fail = (err: unknown): void => {
      reportError(new LoopGuardError('LOOPGUARD_EXPORT_FAILED', `serving the metrics failed: ${(err as Error)?.message ?? err}`, { cause: err }));
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    };
    Promise.resolve()
      .then(() => registry.metrics())
      .then((body) => {
        res.statusCode = 200;
        res.setHeader('content-type', registry.contentType);
        res.end(req.method === 'HEAD' ? undefined : body);
      })
      .catch((err: unknown) => {
        try {
          fail(err);
        } catch {
          // The response is already gone; nothing more to tell the client.
        }
      });
  };
}

function defaultRegistry(reportError: (err: unknown) => void): unknown {
  const { client, error } = defaultPromClient();
  if (client) return client.register;
  // Monitoring must not stop an app from starting: say so once and run without Prometheus.
  reportError(
    new LoopGuardError('LOOPGUARD_MISSING_PEER', `loopguard: Prometheus export needs a Prometheus client (${INSTALL_PROM_CLIENT}); pass \`prometheus: false\` to silence this`, {
      cause: error,
    }),
  );
  return undefined;
}

function collector(context: GuardContext, def: MetricDefinition, name: string): PromMetric {
  const read = READERS[def.key as MetricKey];
  return {
    name,
    help: def.help,
    type: def.type,
    aggregator: def.aggregator,
    get() {
      // `this.name`, not `name`: for OpenMetrics prom-client renames a counter family (drops `_total`) on the metric object.
      const family = this.name;
      let values: Sample[] = [];
      try {
        values = read(context.model, name);
      } catch (err) {
        context.reportError(new LoopGuardError('LOOPGUARD_EXPORT_FAILED', `collecting ${name} failed: ${(err as Error)?.message}`, { cause: err }));
      }
      return { name: family, help: def.help, type: def.type, aggregator: def.aggregator, values };
    },
  };
}

const READERS: Record<MetricKey, (guard: GuardReadModel, name: string) => Sample[]> = {
  eventloopDelay: (g, name) => [
    ...histogramSamples(name, { thread: THREAD_MAIN }, g.delayHistogram),
    ...g.threads().flatMap((t) => histogramSamples(name, { thread: t.label }, t.delay)),
  ],
  eventloopUtilization: (g) => [
    { labels: { thread: THREAD_MAIN }, value: g.loop.utilization },
    ...g.threads().flatMap((t) => (t.utilization === null ? [] : [{ labels: { thread: t.label }, value: t.utilization }])),
  ],
  eventloopBlocked: (g) => [{ labels: {}, value: g.blockedForMs() / 1000 }],
  stalls: (g) => [...g.stalls.all()].map((c) => ({ labels: { route: c.route, method: c.method, cause: c.cause, thread: c.thread }, value: c.count })),
  stallSeconds: (g) => [...g.stalls.all()].map((c) => ({ labels: { route: c.route, method: c.method, cause: c.cause, thread: c.thread }, value: c.seconds })),
  stallThreadSeconds: (g) => Object.entries(g.stalls.threadSeconds).map(([state, seconds]) => ({ labels: { state }, value: seconds })),
  busySeconds: (g) => (g.busy?.totals() ?? []).map((t) => ({ labels: { route: t.key.route, method: t.key.method, cause: t.key.cause }, value: t.seconds })),
  stallDuration: (g, name) =>
    (Object.keys(g.stalls.durations) as (keyof typeof g.stalls.durations)[]).flatMap((cause) =>
      histogramSamples(name, { cause }, g.stalls.durations[cause]),
    ),
  requestDelay: (g, name) => [...g.routes.all()].flatMap((r) => histogramSamples(name, { route: r.route, method: r.method }, r.delay)),
  requestBlocking: (g, name) =>
    [...g.routes.all()].flatMap((r) => (r.blocking ? histogramSamples(name, { route: r.route, method: r.method }, r.blocking) : [])),
  requestsInFlight: (g) => [{ labels: {}, value: g.requestsInFlight }],
  requestsShed: (g) => [...g.shedTotals.values()].map((s) => ({ labels: { route: s.route, reason: s.reason }, value: s.count })),
  threadpoolDelay: (g, name) => (g.threadPool.probing ? histogramSamples(name, {}, g.threadPool.histogram) : []),
  threadpoolSize: (g) => [{ labels: {}, value: g.threadPool.size }],
  workerPoolQueueSize: (g) => g.workerPools().map((p) => ({ labels: { pool: p.name }, value: p.queueSize })),
  workerPoolSize: (g) => g.workerPools().map((p) => ({ labels: { pool: p.name }, value: p.size })),
  workerPoolWait: (g) =>
    g.workerPools().flatMap((p) => [
      ...(p.waitP50Ms === null ? [] : [{ labels: { pool: p.name, percentile: '50' }, value: p.waitP50Ms / 1000 }]),
      ...(p.waitP99Ms === null ? [] : [{ labels: { pool: p.name, percentile: '99' }, value: p.waitP99Ms / 1000 }]),
    ]),
};

function histogramSamples(name: string, labels: Labels, h: Pick<Histogram, 'bounds' | 'sum' | 'count' | 'cumulative'>): Sample[] {
  const out: Sample[] = [];
  const cumulative = h.cumulative();
  for (let i = 0; i < cumulative.length; i++) {
    const le = i < h.bounds.length ? h.bounds[i]! : '+Inf';
    out.push({ labels: { ...labels, le }, value: cumulative[i]!, metricName: `${name}_bucket` });
  }
  out.push({ labels, value: h.sum, metricName: `${name}_sum` });
  out.push({ labels, value: h.count, metricName: `${name}_count` });
  return out;
}
