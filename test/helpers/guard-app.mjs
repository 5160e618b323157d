// An Express app with a guard on a registry of its own, for the core-guard tests.
import express from 'express';
import { Registry } from 'prom-client';
import { loopGuard } from 'loopguard';
import { listen } from './server.mjs';

export async function withApp(options, build, fn) {
  const registry = new Registry();
  const middleware = loopGuard({ startupGraceMs: 0, prometheus: { registry }, ...options });
  const app = express();
  app.use(middleware);
  build(app);
  const server = await listen(app);
  try {
    await fn({ guard: middleware.guard, registry, url: server.url, middleware, app });
  } finally {
    await server.close();
    middleware.guard.close();
  }
}

/** The series of one metric in the registry. */
export const series = async (registry, name) => (await registry.getSingleMetric(name).get()).values;
