import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { StallReport } from '../core/stall-report';
import type { ShedState } from './decision';
import type { Shedder } from './shedder';

/** The JSON a health probe gets. */
export interface HealthStatus {
  /** `overloaded` (503) while every non-exempt request is shed; `degraded` while under pressure or shedding culprits. */
  status: 'ok' | 'degraded' | 'overloaded';
  /** The shedding state, or `disabled` without the `shed` option. */
  shedding: ShedState | 'disabled';
  eventLoop: {
    /** Worst heartbeat lateness in the recent window, ms. */
    delayMs: number;
    /** Event-loop utilization over the last second, 0..1. */
    utilization: number;
  };
  heapUsedBytes: number;
  /** The route that blocked the loop longest in the recent window. */
  topCulprit: { route: string; method: string; blockedMs: number } | null;
}

export interface HealthSource {
  readonly shedder: Shedder | undefined;
  readonly loop: { readonly utilization: number; percentiles(): { maxMs: number } };
  readonly stalls: { recent(): readonly StallReport[] };
  reportError(err: unknown): void;
}

/** Without shedding there is no culprit window: rank the recent reports instead. */
const FALLBACK_WINDOW_MS = 10_000;

export function healthStatus(source: HealthSource): HealthStatus {
  const now = performance.now();
  const shedder = source.shedder;
  const state = shedder?.state;
  let delayMs: number;
  let topCulprit: HealthStatus['topCulprit'] = null;
  if (shedder !== undefined) {
    delayMs = shedder.status(now).eventLoopDelayMs;
    const top = shedder.topCulprit(now);
    if (top !== null) topCulprit = { route: top.route, method: top.method, blockedMs: Math.round(top.ms) };
  } else {
    delayMs = Math.round(source.loop.percentiles().maxMs * 10) / 10;
    topCulprit = topRecent(source.stalls.recent(), Date.now() - FALLBACK_WINDOW_MS);
  }
  return {
    status: state === 'all' ? 'overloaded' : state === 'pressure' || state === 'culprits' ? 'degraded' : 'ok',
    shedding: state ?? 'disabled',
    eventLoop: { delayMs, utilization: Math.round(source.loop.utilization * 1000) / 1000 },
    heapUsedBytes: process.memoryUsage().heapUsed,
    topCulprit,
  };
}

function topRecent(reports: readonly StallReport[], since: number): HealthStatus['topCulprit'] {
  const totals = new Map<string, { route: string; method: string; blockedMs: number }>();
  for (const r of reports) {
    if (r.cause !== 'request' || r.route === null || r.startedAt < since) continue;
    const key = `${r.method} ${r.route}`;
    const t = totals.get(key) ?? { route: r.route, method: r.method ?? '', blockedMs: 0 };
    t.blockedMs += r.durationMs;
    totals.set(key, t);
  }
  let top: HealthStatus['topCulprit'] = null;
  for (const t of totals.values()) if (top === null || t.blockedMs > top.blockedMs) top = t;
  return top === null ? null : { ...top, blockedMs: Math.round(top.blockedMs) };
}

/**
 * A plain `(req, res)` handler for load balancers and Kubernetes readiness
 * probes: 200 while the process serves (even when shedding culprit routes,
 * since most routes still answer), 503 while it sheds everything. A failure
 * building the status answers 503 rather than throwing into the server.
 */
export function createHealthHandler(source: HealthSource): (req: { method?: string }, res: ServerResponse) => void {
  return function loopGuardHealth(req, res) {
    let code = 503;
    let body: string;
    try {
      const status = healthStatus(source);
      code = status.status === 'overloaded' ? 503 : 200;
      body = JSON.stringify(status);
    } catch (err) {
      source.reportError(err);
      body = '{"status":"error"}';
    }
    try {
      res.writeHead(code, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      source.reportError(err);
    }
  };
}
