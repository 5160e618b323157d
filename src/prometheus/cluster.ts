/**
 * Cluster mode. Each cluster worker runs loopguard with `metricsServer`
 * (`port: 0` is fine): its watchdog thread serves the worker's registry and
 * tells the primary where. The primary's `clusterMetricsHandler()` fetches
 * every worker's registry as JSON from those threads and merges them with
 * the Prometheus client's aggregate (prom-client or @prometheus-io/client: counters and histograms sum,
 * `eventloop_blocked_seconds` takes the max, as the catalogue says).
 *
 * Going through the watchdog threads rather than prom-client's IPC to the
 * workers' main threads is the point: a worker whose loop is blocked still
 * answers, with its blocked seconds, instead of stalling the whole scrape.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Worker as ClusterWorker } from 'node:cluster';
import { LoopGuardError } from '../errors';
import { finiteNumber, knownKeys, optionalFunction, plainObject } from '../validate';
import type { MetricJson } from '../contract/messages';
import { defaultPromClient, INSTALL_PROM_CLIENT } from './prom-lib';

const ANNOUNCE = 'loopguard:metrics-server';
/**
 * The most a worker's registry JSON may take: far above a capped loopguard
 * registry plus an app's own metrics, far below what would hurt the primary.
 */
export const MAX_WORKER_METRICS_BYTES = 16 * 1024 * 1024;
/** The aggregators prom-client and @prometheus-io/client know; anything else would make `aggregate()` throw. */
const KNOWN_AGGREGATORS: ReadonlySet<string> = new Set(['sum', 'first', 'min', 'max', 'average', 'omit']);
/** Response header: how many workers' metrics are in this exposition, of how many known. */
export const CLUSTER_WORKERS_HEADER = 'loopguard-cluster-workers';

interface AnnounceMessage {
  type: typeof ANNOUNCE;
  url: string;
}

type ClusterModule = typeof import('node:cluster').default;

/** Loaded only when used: some application servers (Passenger) break when `cluster` is imported. */
function loadCluster(): ClusterModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('node:cluster') as ClusterModule;
}

/** In a cluster worker, tells the primary where this worker's metrics server listens. Never throws. */
export function announceToPrimary(url: string): void {
  try {
    if (!loadCluster().isWorker || typeof process.send !== 'function' || !process.connected) return;
    process.send({ type: ANNOUNCE, url } satisfies AnnounceMessage, undefined, undefined, () => undefined);
  } catch {
    // The channel to the primary is gone; the worker's own endpoint still works.
  }
}

export interface ClusterMetricsOptions {
  /** How long to wait for one worker's metrics server, in milliseconds. @default 1000 */
  timeoutMs?: number;
  /** Receives a worker that could not be scraped (once per distinct problem). @default process.emitWarning */
  onError?: (error: Error) => void;
}

export interface ClusterMetricsHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** The aggregated exposition of every worker that answered. */
  collect(): Promise<{ text: string; workers: number; answered: number }>;
  readonly contentType: string;
  /** Stops listening to the cluster's messages. */
  close(): void;
}

interface Aggregator {
  aggregate(metrics: MetricJson[][]): { metrics(): Promise<string> | string; contentType: string };
}

/**
 * For the primary process. Create it before forking the workers: they
 * announce their metrics servers once, when those start listening.
 */
export function clusterMetricsHandler(options: ClusterMetricsOptions = {}): ClusterMetricsHandler {
  plainObject('options', options);
  knownKeys('', options, ['timeoutMs', 'onError']);
  const timeoutMs = finiteNumber('timeoutMs', options.timeoutMs ?? 1000, 1, 60_000);
  optionalFunction('onError', options.onError);
  const cluster = loadCluster();
  if (!cluster.isPrimary) {
    throw new LoopGuardError('LOOPGUARD_INVALID_OPTION', 'loopguard: clusterMetricsHandler() belongs in the cluster primary; workers run loopguard with `metricsServer: { port: 0 }`');
  }
  const aggregator = loadAggregator();
  const endpoints = new Map<number, string>();
  const reported = new Set<string>();
  const report = (error: Error): void => {
    if (reported.has(error.message)) return;
    if (reported.size < 100) reported.add(error.message);
    try {
      if (options.onError) options.onError(error);
      else process.emitWarning(error.message, { code: 'LOOPGUARD_EXPORT_FAILED' });
    } catch {
      // An onError that throws has nowhere left to report to.
    }
  };
  const onMessage = (worker: ClusterWorker, message: unknown): void => {
    const m = message as AnnounceMessage | null;
    if (m?.type !== ANNOUNCE || typeof m.url !== 'string') return;
    // A worker's metrics server is on this host: anything else it names is not fetched.
    if (isLoopbackHttpUrl(m.url)) endpoints.set(worker.id, m.url);
    else report(new LoopGuardError('LOOPGUARD_EXPORT_FAILED', `loopguard: cluster worker ${worker.id} announced a metrics server that is not a loopback http URL; ignored`));
  };
  const onExit = (worker: ClusterWorker): void => void endpoints.delete(worker.id);
  cluster.on('message', onMessage);
  cluster.on('exit', onExit);

  async function scrape(url: string): Promise<MetricJson[] | undefined> {
    try {
      const target = new URL(url);
      target.searchParams.set('format', 'json');
      const res = await fetch(target, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const metrics: unknown = JSON.parse(await boundedText(res, MAX_WORKER_METRICS_BYTES));
      if (!Array.isArray(metrics)) throw new Error('not a list of metrics');
      // The aggregate needs a known aggregator on every family: missing or unknown ones sum, as prom-client does by default.
      return metrics
        .filter((m): m is MetricJson => m !== null && typeof m === 'object' && typeof m.name === 'string' && typeof m.type === 'string' && Array.isArray(m.values))
        .map((m) => (typeof m.aggregator === 'string' && KNOWN_AGGREGATORS.has(m.aggregator) ? m : { ...m, aggregator: 'sum' }));
    } catch (err) {
      report(new LoopGuardError('LOOPGUARD_EXPORT_FAILED', `loopguard: scraping cluster worker metrics at ${url} failed: ${(err as Error)?.message ?? err}`, { cause: err }));
      return undefined;
    }
  }

  async function collect(): Promise<{ text: string; workers: number; answered: number }> {
    const results = await Promise.all([...endpoints.values()].map(scrape));
    const answered = results.filter((r): r is MetricJson[] => r !== undefined);
    const text = answered.length === 0 ? '' : await aggregator.aggregate(answered).metrics();
    return { text, workers: endpoints.size, answered: answered.length };
  }

  const contentType = 'text/plain; version=0.0.4; charset=utf-8';
  const handler = function loopGuardClusterMetrics(req: IncomingMessage, res: ServerResponse): void {
    collect()
      .then(({ text, workers, answered }) => {
        res.writeHead(200, { 'content-type': contentType, [CLUSTER_WORKERS_HEADER]: `${answered}/${workers}` });
        res.end(req.method === 'HEAD' ? undefined : text);
      })
      .catch((err: unknown) => {
        report(err instanceof Error ? err : new Error(String(err)));
        try {
          if (!res.headersSent) res.writeHead(500);
          res.end();
        } catch {
          // The client is gone.
        }
      });
  } as ClusterMetricsHandler;
  return Object.assign(handler, {
    collect,
    contentType,
    close() {
      cluster.off('message', onMessage);
      cluster.off('exit', onExit);
    },
  });
}

/** http://127.x.x.x, http://[::1] or http://localhost, on any port. */
export function isLoopbackHttpUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' || url.username !== '' || url.password !== '') return false;
  const host = url.hostname;
  return host === '[::1]' || host === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The response body as text, or an error once it passes `maxBytes` (the rest is not read). */
async function boundedText(res: Response, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > maxBytes) throw new Error(`body of ${declared} bytes is over the ${maxBytes}-byte cap`);
  if (res.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > maxBytes) throw new Error(`body over the ${maxBytes}-byte cap`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function loadAggregator(): Aggregator {
  const { client, error } = defaultPromClient();
  if (client) return client;
  throw new LoopGuardError('LOOPGUARD_MISSING_PEER', `loopguard: clusterMetricsHandler() needs a Prometheus client (${INSTALL_PROM_CLIENT})`, { cause: error });
}
