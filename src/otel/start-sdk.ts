/**
 * `loopguard/otel`: one call that starts the OpenTelemetry Node SDK for apps
 * with no OTel setup yet, exporting loopguard's instruments over OTLP/HTTP
 * or on a Prometheus scrape endpoint. The SDK packages are optional peers,
 * required only here, so the core library never loads them.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionError, LoopGuardError } from '../errors';
import { boolean, integer, knownKeys, plainObject } from '../validate';
import { refreshGlobalMeters } from './exporter';
import { prometheusViews } from './instruments';

export interface StartOtelOptions {
  /**
   * `'otlp'`: push metrics (and traces) over OTLP/HTTP to the endpoint in the
   * standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_METRICS_ENDPOINT` /
   * `…_TRACES_ENDPOINT`) environment variables, `http://localhost:4318` by default.
   * `'prometheus'`: serve a scrape endpoint whose names equal loopguard's prom-client names.
   * @default 'otlp'
   */
  exporter?: 'otlp' | 'prometheus';
  /**
   * The scrape endpoint (`exporter: 'prometheus'`). It has no authentication,
   * so it binds loopback unless told otherwise; port 0 picks a free one.
   * @default { port: OTEL_EXPORTER_PROMETHEUS_PORT ?? 9464, host: OTEL_EXPORTER_PROMETHEUS_HOST ?? '127.0.0.1' }
   */
  prometheus?: { port?: number; host?: string };
  /** How often metrics are pushed (`exporter: 'otlp'`), ms. @default OTEL_METRIC_EXPORT_INTERVAL ?? 60000 */
  exportIntervalMs?: number;
  /**
   * Export traces over OTLP/HTTP too, so `loopguard.stall` span events reach the tracing backend.
   * @default true with 'otlp', false with 'prometheus'
   */
  traces?: boolean;
  /** The `service.name` resource attribute. @default OTEL_SERVICE_NAME, else the SDK's default */
  serviceName?: string;
  /**
   * Instrumentations to enable, e.g. `[new HttpInstrumentation(), new ExpressInstrumentation()]`
   * (server spans for stall events). They patch modules loaded after this call.
   * @default []
   */
  instrumentations?: unknown[];
}

export interface OtelHandle {
  /** The started `NodeSDK`. */
  readonly sdk: unknown;
  /** Resolves once export can happen; for `'prometheus'`, with the scrape URL. */
  readonly ready: Promise<{ metricsUrl?: string }>;
  /** For `'prometheus'`: a `(req, res)` handler serving the exposition, to mount in an app's own router. */
  readonly metricsHandler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  /** Flushes pending telemetry and stops the SDK and the scrape endpoint. */
  shutdown(): Promise<void>;
}

/**
 * Starts `@opentelemetry/sdk-node` and binds every loopguard guard that uses
 * the global meter (the default) to it; guards created later bind at
 * creation. Call it once, as early as possible (instrumentations patch only
 * modules loaded afterwards). Throws a coded error naming the missing
 * package when an optional SDK package is not installed.
 */
export function startOtel(options: StartOtelOptions = {}): OtelHandle {
  const config = resolve(options);
  const sdkNode = peer<typeof import('@opentelemetry/sdk-node')>('@opentelemetry/sdk-node');
  let metricReader: unknown;
  let metricsHandler: OtelHandle['metricsHandler'];
  let views: ReturnType<typeof prometheusViews> = [];
  if (config.exporter === 'prometheus') {
    const { PrometheusExporter } = peer<typeof import('@opentelemetry/exporter-prometheus')>('@opentelemetry/exporter-prometheus');
    // We serve it ourselves: port 0 must work, and the address must be known.
    const exporter = new PrometheusExporter({ preventServerStart: true });
    metricReader = exporter;
    metricsHandler = (req, res) => exporter.getMetricsRequestHandler(req, res);
    // The OTel JS Prometheus exporter adds `_total` but no unit suffix: name the streams outright.
    views = prometheusViews();
  } else {
    const { OTLPMetricExporter } = peer<typeof import('@opentelemetry/exporter-metrics-otlp-http')>('@opentelemetry/exporter-metrics-otlp-http');
    // sdk-node 0.2xx re-exports sdk-metrics as `metrics`; the 0.30x line exports only NodeSDK.
    const { PeriodicExportingMetricReader } = sdkNode.metrics ?? peer<typeof import('@opentelemetry/sdk-metrics')>('@opentelemetry/sdk-metrics');
    metricReader = new PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter(),
      exportIntervalMillis: config.exportIntervalMs,
      exportTimeoutMillis: Math.min(30_000, config.exportIntervalMs),
    });
  }
  const traceExporter = config.traces
    ? new (peer<typeof import('@opentelemetry/exporter-trace-otlp-http')>('@opentelemetry/exporter-trace-otlp-http').OTLPTraceExporter)()
    : undefined;
  const sdk = new sdkNode.NodeSDK({
    metricReaders: [metricReader as never],
    views,
    // Explicit, so the SDK does not set up exporters from its own env defaults.
    ...(traceExporter ? { traceExporter } : { spanProcessors: [] }),
    logRecordProcessors: [],
    instrumentations: config.instrumentations as never,
    ...(config.serviceName !== undefined && { serviceName: config.serviceName }),
  });
  sdk.start();
  refreshGlobalMeters();

  const server = metricsHandler === undefined ? undefined : scrapeServer(metricsHandler);
  const ready =
    server === undefined
      ? Promise.resolve({})
      : new Promise<{ metricsUrl?: string }>((resolveReady, reject) => {
          server.once('error', reject);
          server.listen(config.port, config.host, () => {
            const { address, port } = server.address() as AddressInfo;
            const host = address.includes(':') ? `[${address}]` : address;
            resolveReady({ metricsUrl: `http://${host}:${port}/metrics` });
          });
        });
  // An unhandled rejection here would crash the app; shutdown() and the caller's `await ready` still see it.
  ready.catch(() => {});

  return {
    sdk,
    ready,
    metricsHandler,
    async shutdown() {
      if (server !== undefined) {
        await new Promise<void>((done) => {
          server.closeAllConnections();
          server.close(() => done());
        });
      }
      await sdk.shutdown();
    },
  };
}

/** The scrape endpoint: monitoring must not keep the process alive, so it is unref'd. */
function scrapeServer(handler: (req: IncomingMessage, res: ServerResponse) => void): http.Server {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) return handler(req, res);
    res.statusCode = 404;
    res.end('Not found: the metrics are at /metrics\n');
  });
  server.unref();
  return server;
}

interface Resolved {
  exporter: 'otlp' | 'prometheus';
  port: number;
  host: string;
  exportIntervalMs: number;
  traces: boolean;
  serviceName: string | undefined;
  instrumentations: unknown[];
}

function resolve(options: StartOtelOptions): Resolved {
  plainObject('options', options);
  knownKeys('', options, ['exporter', 'prometheus', 'exportIntervalMs', 'traces', 'serviceName', 'instrumentations']);
  if (options.prometheus !== undefined) knownKeys('prometheus', plainObject('prometheus', options.prometheus), ['port', 'host']);
  const exporter = options.exporter ?? 'otlp';
  if (exporter !== 'otlp' && exporter !== 'prometheus') throw new InvalidOptionError('exporter', "'otlp' or 'prometheus'", exporter);
  const env = process.env;
  const port = options.prometheus?.port ?? (env.OTEL_EXPORTER_PROMETHEUS_PORT ? Number(env.OTEL_EXPORTER_PROMETHEUS_PORT) : 9464);
  integer('prometheus.port', port, 0, 65_535);
  const host = options.prometheus?.host ?? env.OTEL_EXPORTER_PROMETHEUS_HOST ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') throw new InvalidOptionError('prometheus.host', 'a host name or address', host);
  const exportIntervalMs = options.exportIntervalMs ?? (env.OTEL_METRIC_EXPORT_INTERVAL ? Number(env.OTEL_METRIC_EXPORT_INTERVAL) : 60_000);
  if (!Number.isFinite(exportIntervalMs) || exportIntervalMs < 100) throw new InvalidOptionError('exportIntervalMs', 'a number of milliseconds ≥ 100', exportIntervalMs);
  const traces = options.traces ?? exporter === 'otlp';
  boolean('traces', traces);
  if (options.serviceName !== undefined && typeof options.serviceName !== 'string') throw new InvalidOptionError('serviceName', 'a string', options.serviceName);
  const instrumentations = options.instrumentations ?? [];
  if (!Array.isArray(instrumentations)) throw new InvalidOptionError('instrumentations', 'an array of OpenTelemetry instrumentations', instrumentations);
  return { exporter, port, host, exportIntervalMs, traces, serviceName: options.serviceName, instrumentations };
}

/** Requires an optional peer, or throws a coded error saying what to install. */
function peer<T>(name: string): T {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T;
  } catch (err) {
    throw new LoopGuardError('LOOPGUARD_MISSING_PEER', `loopguard/otel needs ${name} (npm install ${name})`, { cause: err });
  }
}
