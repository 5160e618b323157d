/**
 * Main-thread side of the worker-served `/metrics` endpoint: answers the
 * worker's requests for a fresh exposition (the registry as JSON, rendered
 * to text in the worker) and relays where the server listens.
 */
import { LoopGuardError } from '../errors';
import type { MetricsCollectedMessage, MetricsWorkerMessage } from '../contract/messages';
import { announceToPrimary } from './cluster';
import type { PromRegistry } from './exporter';

export interface MetricsServerAddress {
  /** `http://host:port/path`, ready to fetch. */
  url: string;
  host: string;
  port: number;
  path: string;
}

declare module '../core/events' {
  interface LoopGuardEvents {
    /** The `metricsServer` endpoint listens (after start or a watchdog restart). */
    'metrics:listening': [address: MetricsServerAddress];
  }
}

export interface MetricsBridgeHooks {
  registry(): PromRegistry | undefined;
  onListening(address: MetricsServerAddress): void;
  onError(error: Error): void;
}

export class MetricsBridge {
  address: MetricsServerAddress | undefined;

  constructor(private readonly hooks: MetricsBridgeHooks) {}

  /** Handles one message from the worker; never throws. */
  handle(message: { type: string }, reply: (message: unknown) => void): void {
    const m = message as MetricsWorkerMessage;
    try {
      if (m.type === 'metrics:collect') this.collect(m.id, reply);
      else if (m.type === 'metrics:listening') this.listening(m.host, m.port, m.path);
      else if (m.type === 'metrics:error') this.hooks.onError(new LoopGuardError('LOOPGUARD_EXPORT_FAILED', `loopguard: ${m.message}`));
    } catch (err) {
      this.hooks.onError(err as Error);
    }
  }

  private collect(id: number, reply: (message: unknown) => void): void {
    const registry = this.hooks.registry();
    const send = (answer: MetricsCollectedMessage): void => {
      try {
        reply(answer);
      } catch (err) {
        // A metric whose values cannot be cloned (a user collector returning functions): say so, answer empty-handed.
        this.hooks.onError(new LoopGuardError('LOOPGUARD_EXPORT_FAILED', `loopguard: passing the metrics to the metrics server failed: ${(err as Error).message}`, { cause: err }));
        reply({ type: 'metrics:collected', id, error: (err as Error).message } satisfies MetricsCollectedMessage);
      }
    };
    if (registry === undefined) return send({ type: 'metrics:collected', id, metrics: [] });
    Promise.resolve()
      .then(() => registry.getMetricsAsJSON())
      .then(
        (metrics) => send({ type: 'metrics:collected', id, metrics, contentType: registry.contentType }),
        (err: unknown) => {
          this.hooks.onError(new LoopGuardError('LOOPGUARD_EXPORT_FAILED', `loopguard: collecting the metrics failed: ${(err as Error)?.message ?? err}`, { cause: err }));
          send({ type: 'metrics:collected', id, error: String((err as Error)?.message ?? err) });
        },
      )
      .catch((err: unknown) => this.hooks.onError(err as Error));
  }

  private listening(host: string, port: number, path: string): void {
    // A wildcard bind is reachable on loopback; a URL with 0.0.0.0 is not fetchable everywhere.
    const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
    const hostPart = reachable.includes(':') ? `[${reachable}]` : reachable;
    this.address = { url: `http://${hostPart}:${port}${path}`, host, port, path };
    announceToPrimary(this.address.url);
    this.hooks.onListening(this.address);
  }
}
