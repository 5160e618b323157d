import { CATALOGUE, DEFAULT_PREFIX, type MetricDefinition, type MetricKey } from '../catalogue';
import type { LoopGuard } from '../core/guard';
import type { Histogram } from '../core/histogram';
import { LoopGuardError } from '../errors';
import type { PrometheusOptions } from '../options';
import type { Exporter } from './start';

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

interface PromRegistry {
  registerMetric(metric: PromMetric): void;
  removeSingleMetric(name: string): void;
  getSingleMetric(name: string): unknown;
}

/**
 * Registers one prom-client metric per catalogue entry. Values are computed
 * at collect time from the guard's cumulative state: nothing resets on
 * scrape, so any number of scrapers see the same monotonic series.
 */
export function registerPrometheus(guard: LoopGuard, options: Readonly<PrometheusOptions>): Exporter | undefined {
  const registry = (options.registry ?? defaultRegistry(guard)) as PromRegistry | undefined;
  if (registry === undefined) return undefined;
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const names = CATALOGUE.map((def) => prefix + def.name);
  const taken = names.find((name) => registry.getSingleMetric(name) !== undefined);
  if (taken !== undefined) {
    throw new LoopGuardError(
      'LOOPGUARD_ALREADY_REGISTERED',
      `loopguard: metric ${taken} is already registered in this prom-client registry. ` +
        'Share one guard between mounts (pass the guard to every adapter), close() the previous guard, ' +
        'or give this one its own `prometheus: { registry }` or `prometheus: { prefix }`.',
    );
  }
  for (const def of CATALOGUE) registry.registerMetric(collector(guard, def, prefix + def.name));
  return {
    close() {
      for (const name of names) registry.removeSingleMetric(name);
    },
  };
}

function defaultRegistry(guard: LoopGuard): unknown {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('prom-client') as { register: unknown }).register;
  } catch (err) {
    // Monitoring must not stop an app from starting: say so once and run without Prometheus.
    guard.reportError(
      new LoopGuardError('LOOPGUARD_MISSING_PEER', 'loopguard: Prometheus export needs the peer dependency prom-client (npm install prom-client); pass `prometheus: false` to silence this', {
        cause: err,
      }),
    );
    return undefined;
  }
}

function collector(guard: LoopGuard, def: MetricDefinition, name: string): PromMetric {
  const read = READERS[def.key as MetricKey];
  return {
    name,
    help: def.help,
    type: def.type,
    aggregator: def.aggregator,
    get() {
      let values: Sample[] = [];
      try {
        values = read(guard, name);
      } catch (err) {
        guard.reportError(new LoopGuardError('LOOPGUARD_EXPORT_FAILED', `collecting ${name} failed: ${(err as Error)?.message}`, { cause: err }));
      }
      return { name, help: def.help, type: def.type, aggregator: def.aggregator, values };
    },
  };
}

const READERS: Record<MetricKey, (guard: LoopGuard, name: string) => Sample[]> = {
  eventloopDelay: (g, name) => histogramSamples(name, {}, g.delayHistogram),
  eventloopUtilization: (g) => [{ labels: {}, value: g.loop.utilization }],
  eventloopBlocked: (g) => [{ labels: {}, value: g.blockedForMs() / 1000 }],
  stalls: (g) => [...g.stalls.all()].map((c) => ({ labels: { route: c.route, method: c.method, cause: c.cause }, value: c.count })),
  stallSeconds: (g) => [...g.stalls.all()].map((c) => ({ labels: { route: c.route, method: c.method, cause: c.cause }, value: c.seconds })),
  stallDuration: (g, name) =>
    (Object.keys(g.stalls.durations) as (keyof typeof g.stalls.durations)[]).flatMap((cause) =>
      histogramSamples(name, { cause }, g.stalls.durations[cause]),
    ),
  requestDelay: (g, name) => [...g.routes.all()].flatMap((r) => histogramSamples(name, { route: r.route, method: r.method }, r.delay)),
  requestBlocking: (g, name) =>
    [...g.routes.all()].flatMap((r) => (r.blocking ? histogramSamples(name, { route: r.route, method: r.method }, r.blocking) : [])),
  requestsInFlight: (g) => [{ labels: {}, value: g.tracker.inFlight }],
  requestsShed: (g) => [...g.shedTotals.values()].map((s) => ({ labels: { route: s.route, reason: s.reason }, value: s.count })),
};

function histogramSamples(name: string, labels: Labels, h: Histogram): Sample[] {
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
