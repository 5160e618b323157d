/**
 * The soak target: an Express 5 app with loopguard and the routes the soak
 * load mixes (see bench/lua/soak.lua):
 *   /                        hello
 *   /t/<0..TEMPLATES-1>/:id  more distinct templates than maxRoutes: the cap must hold
 *   /tenants/:tenant/items/:id  a parameter in the mount prefix (prefix-template cache)
 *   /block                   holds the loop BLOCK_MS: a stall every time
 *   /metrics                 prom-client's default registry, loopguard's series included
 * anything else is unmatched (404). Run with --expose-gc so memory samples
 * are taken after full collections.
 *   node --expose-gc bench/servers/soak-app.mjs [default|precise]
 */
import express from 'express';
import client from 'prom-client';
import { loopGuard } from 'loopguard';
import { serve } from './harness.mjs';
import { guardInternals } from '../../dist/internal.js';

export const MAX_ROUTES = 200;
const TEMPLATES = 300;
const BLOCK_MS = 150;

const mode = process.argv[2] ?? 'default';
const middleware = loopGuard({ maxRoutes: MAX_ROUTES, precise: mode === 'precise' });
const guard = middleware.guard;
let stalls = 0;
guard.on('stall', () => stalls++);
let served = 0;

const app = express();
app.use(middleware);
app.use((req, res, next) => {
  served++;
  next();
});
app.get('/', (req, res) => {
  res.send('Hello World!');
});
for (let i = 0; i < TEMPLATES; i++) {
  app.get(`/t/${i}/:id`, (req, res) => {
    res.send(req.params.id.length > 100 ? 'long' : 'ok');
  });
}
const tenants = express.Router({ mergeParams: true });
tenants.get('/items/:id', (req, res) => {
  res.json({ tenant: req.params.tenant.length, item: req.params.id.length });
});
app.use('/tenants/:tenant', tenants);
app.get('/block', (req, res) => {
  const until = performance.now() + BLOCK_MS;
  while (performance.now() < until);
  res.send('blocked');
});
app.get('/metrics', async (req, res) => {
  res.type(client.register.contentType);
  res.send(await client.register.metrics());
});

serve(app, {
  onStop: () => guard.close(),
  info: () => {
    const { routes: table } = guardInternals(guard);
    const routes = [...table.all()];
    return {
      served,
      stalls,
      inFlight: guard.snapshot().requestsInFlight,
      templates: table.size,
      routeSeries: routes.length,
      routeLabels: new Set(routes.map((r) => r.route)).size,
      maxRoutes: MAX_ROUTES,
    };
  },
});
