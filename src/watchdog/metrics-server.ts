/**
 * The `/metrics` endpoint, served from the watchdog worker thread so that a
 * scrape is answered even while the main thread is blocked. On each scrape
 * the worker asks the main thread for a fresh exposition (JSON, collected
 * there from the registry) and waits a short deadline; a blocked main thread
 * misses it, and the worker serves the last exposition it got, with the
 * blocked-seconds gauge set from shared memory. Nothing is collected on the
 * main thread unless someone scrapes, and at most once a second however
 * often they do. Tight timeouts and a connection cap keep slow or idle
 * clients from holding the endpoint.
 */
import http from 'node:http';
import type { MessagePort } from 'node:worker_threads';
import { OPENMETRICS_CONTENT_TYPE, renderText, TEXT_CONTENT_TYPE, withGaugeValue } from '../prometheus/exposition';
import type { MetricJson } from '../contract/messages';
import { epochNow, type SharedState } from '../contract/shared-state';
import type { MetricsCollectedMessage, MetricsServerConfig, MetricsWorkerMessage } from '../contract/messages';




/** A request to the main thread unanswered for this long (a hung collect callback) is given up and asked again. */
const ABANDON_PENDING_MS = 10_000;
/**
 * Before the first exposition arrives a scrape may wait this long: a cold
 * first collect of a large registry takes longer than `mainThreadTimeoutMs`,
 * and an answer with nothing but the blocked gauge would look like every
 * series vanished for one scrape.
 */
const FIRST_EXPOSITION_WAIT_MS = 250;
/**
 * A scrape within this long of the last scrape that made the main thread
 * collect is served that exposition: a scraper that asks many times a second
 * (or many scrapers) costs the main thread one collect a second, not one each.
 * Prometheus scrapes every 15 s or more, so a second of age changes nothing.
 */
export const REUSE_EXPOSITION_MS = 1000;
/**
 * The endpoint's limits: it is a second server in the app's process, answered
 * on the watchdog thread, which must not be held by slow or idle clients
 * (Node's defaults are 60 s for headers and 300 s per request, no cap on
 * connections, and the timeouts checked every 30 s).
 */
export const METRICS_SERVER_LIMITS = {
  headersTimeoutMs: 2000,
  requestTimeoutMs: 5000,
  keepAliveTimeoutMs: 5000,
  checkIntervalMs: 500,
  maxConnections: 32,
} as const;
/** Header telling how old the served exposition is: 0-ish when fresh, the stall's age when cached. */
export const AGE_HEADER = 'loopguard-exposition-age-ms';

/** The latest exposition the main thread gave, and at most one question to it in flight. */
class ExpositionCache {
  metrics: MetricJson[] = [];
  contentType = TEXT_CONTENT_TYPE;
  collectedAt = 0;
  /** When a scrape last asked the main thread (priming does not count): reuse is measured from it. */
  private scrapeAskedAt = 0;
  private acceptedId = 0;
  private nextId = 1;
  private pending: { id: number; sentAt: number; answered: Promise<void>; resolve: () => void } | undefined;

  constructor(
    private readonly shared: SharedState,
    private readonly port: MessagePort,
    private readonly timeoutMs: number,
  ) {}

  /** Resolves once a fresh exposition arrived or the deadline passed, whichever is first. */
  async refresh(): Promise<void> {
    const now = epochNow();
    // Already blocked past the deadline: asking cannot be answered in time.
    if (this.shared.blockedForMs(now) >= this.timeoutMs) return;
    if (this.collectedAt !== 0 && this.pending === undefined && now - this.scrapeAskedAt < REUSE_EXPOSITION_MS) return;
    if (this.pending === undefined || now - this.pending.sentAt > ABANDON_PENDING_MS) {
      this.ask(now);
      this.scrapeAskedAt = now;
    }
    const waitMs = this.collectedAt === 0 ? Math.max(this.timeoutMs, FIRST_EXPOSITION_WAIT_MS) : this.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)));
    await Promise.race([this.pending!.answered, deadline]);
    clearTimeout(timer);
  }

  /** Answers arrive in order; an older one never replaces a newer one, so counters never go back. */
  accept(message: MetricsCollectedMessage): void {
    if (message.id > this.acceptedId && Array.isArray(message.metrics)) {
      this.acceptedId = message.id;
      this.metrics = message.metrics;
      this.contentType = message.contentType === OPENMETRICS_CONTENT_TYPE ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE;
      this.collectedAt = epochNow();
    }
    if (this.pending !== undefined && message.id >= this.pending.id) {
      this.pending.resolve();
      this.pending = undefined;
    }
  }

  /** Asks for an exposition without waiting: once at start, so that the first scrape already has one. */
  prime(): void {
    if (this.pending === undefined) this.ask(epochNow());
  }

  private ask(now: number): void {
    const id = this.nextId++;
    let resolve!: () => void;
    const answered = new Promise<void>((r) => (resolve = r));
    this.pending?.resolve();
    this.pending = { id, sentAt: now, answered, resolve };
    this.port.postMessage({ type: 'metrics:collect', id } satisfies MetricsWorkerMessage);
  }
}

export interface MetricsServer {
  close(): void;
}

export function startMetricsServer(config: MetricsServerConfig, shared: SharedState, port: MessagePort): MetricsServer {
  const cache = new ExpositionCache(shared, port, config.mainThreadTimeoutMs);
  const onMessage = (message: unknown): void => {
    if ((message as MetricsCollectedMessage | null)?.type === 'metrics:collected') cache.accept(message as MetricsCollectedMessage);
  };
  port.on('message', onMessage);

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== config.path) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return void res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('Method Not Allowed\n');
    }
    await cache.refresh();
    const now = epochNow();
    const metrics = withGaugeValue(cache.metrics, config.blockedGauge, shared.blockedForMs(now) / 1000);
    // `?format=json` is for loopguard's cluster aggregator in the primary process.
    const json = url.searchParams.get('format') === 'json';
    const body = json ? JSON.stringify(metrics) : renderText(metrics, cache.contentType);
    res.writeHead(200, {
      'content-type': json ? 'application/json' : cache.contentType,
      'content-length': Buffer.byteLength(body),
      [AGE_HEADER]: cache.collectedAt === 0 ? 'none' : String(Math.round(now - cache.collectedAt)),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  const limits = METRICS_SERVER_LIMITS;
  const options: http.ServerOptions = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: limits.checkIntervalMs,
  };
  const server = http.createServer(options, (req, res) => {
    serve(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`loopguard metrics: ${err instanceof Error ? err.message : String(err)}\n`);
    });
  });
  server.maxConnections = limits.maxConnections;
  server.on('error', (err: Error) => {
    port.postMessage({
      type: 'metrics:error',
      message: `metrics server on ${config.host}:${config.port} failed: ${err.message}`,
    } satisfies MetricsWorkerMessage);
  });
  // exclusive: inside a cluster worker, listen on our own handle instead of asking the primary to share one.
  server.listen({ host: config.host, port: config.port, exclusive: true }, () => {
    const address = server.address();
    const boundPort = typeof address === 'object' && address !== null ? address.port : config.port;
    port.postMessage({ type: 'metrics:listening', host: config.host, port: boundPort, path: config.path } satisfies MetricsWorkerMessage);
    cache.prime();
  });

  return {
    close() {
      port.off('message', onMessage);
      server.closeAllConnections();
      server.close();
    },
  };
}
