import { InvalidOptionError } from '../errors';
import { finiteNumber, integer, knownKeys, plainObject } from '../validate';

/** Where loopguard registers its Prometheus series. */
export interface PrometheusOptions {
  /** A `Registry` from prom-client or @prometheus-io/client. @default the installed client's default `register` (see README) */
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

export function validatePrometheus(value: PrometheusOptions): PrometheusOptions {
  knownKeys('prometheus', value, ['registry', 'prefix']);
  if (value.prefix !== undefined && (typeof value.prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(value.prefix))) {
    throw new InvalidOptionError('prometheus.prefix', 'a valid Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)', value.prefix);
  }
  if (value.registry !== undefined && (value.registry === null || typeof (value.registry as { registerMetric?: unknown }).registerMetric !== 'function')) {
    throw new InvalidOptionError('prometheus.registry', 'a prom-client or @prometheus-io/client Registry', value.registry);
  }
  return value;
}

export function resolveMetricsServer(value: unknown, prometheus: boolean): Readonly<Required<MetricsServerOptions>> | false {
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
