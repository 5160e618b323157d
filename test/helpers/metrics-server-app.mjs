// The app of the worker-served /metrics tests: an Express app whose /block?ms= holds the loop.
import express from 'express';
import { loopGuard } from 'loopguard';
import { Registry } from './prom-lib.mjs';
import { listen, waitFor } from './server.mjs';
import { burnCpu } from '../fixtures/blocking.mjs';
import { parseExposition } from '../fixtures/prometheus-text.mjs';

/** An Express app whose /block?ms= holds the loop, with loopguard serving metrics from its worker. */
export async function startApp(options = {}) {
  const registry = options.registry ?? new Registry();
  const middleware = loopGuard({ thresholdMs: 100, startupGraceMs: 0, prometheus: { registry }, metricsServer: { port: 0 }, ...options.guard });
  const guard = middleware.guard;
  const listening = waitFor(guard, 'metrics:listening');
  const app = express();
  app.use(middleware);
  app.get('/fast', (req, res) => res.send('ok'));
  app.get('/block', (req, res) => {
    burnCpu(Number(req.query.ms));
    res.send('done');
  });
  app.get('/metrics', guard.metricsHandler());
  const server = await listen(app);
  const { url: metricsUrl } = await listening;
  return {
    registry,
    guard,
    server,
    metricsUrl,
    async close() {
      await server.close();
      guard.close();
    },
  };
}

/** 90th percentile of the scrapes' durations, ms. */
export function p90(scrapes) {
  const ms = scrapes.map((s) => s.ms).sort((a, b) => a - b);
  return ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.9))];
}

/** Every counter and histogram series of one scrape: the values that must never go down. */
export function monotonicSeries(text) {
  const { samples, types } = parseExposition(text);
  const out = new Map();
  for (const [series, value] of samples) {
    const name = series.split('{')[0];
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    const type = types.get(family);
    if (type === 'counter' || type === 'histogram') out.set(series, value);
  }
  return out;
}
