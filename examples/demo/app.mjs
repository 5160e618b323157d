// The demo service: an ordinary Express shop API with fast routes, routes
// that await I/O, and five routes that block the loop the way real code does.
import express from 'express';
import { loopGuard } from 'loopguard';
import * as shop from './handlers.mjs';

/** Routes whose own code blocks the loop, the function the stack should name, and the advice (`call` or, for a CPU loop, the kind) their stalls get. */
export const BLOCKING_ROUTES = [
  { method: 'POST', route: '/api/login', fn: 'hashPassword', pattern: 'synchronous password hash (pbkdf2Sync)', advice: 'crypto.pbkdf2Sync' },
  { method: 'GET', route: '/api/feed', fn: 'readFeed', pattern: 'big JSON.parse', advice: 'JSON.parse' },
  { method: 'GET', route: '/api/users/check-email', fn: 'isValidEmail', pattern: 'backtracking regex', advice: 'RegExp.prototype.test' },
  { method: 'GET', route: '/api/reports/monthly', fn: 'summariseOrders', pattern: 'CPU loop after an await', advice: 'cpu' },
  { method: 'GET', route: '/api/invoices/:id/pdf', fn: 'loadInvoiceTemplate', pattern: 'synchronous file read (readFileSync)', advice: 'fs.readFileSync' },
];

/**
 * The fix for CPU work, and its next problem: thumbnails are made in a piscina
 * pool, so the main loop stays free; a large original holds its worker
 * (~300 ms), and the thumbnails queued behind it wait. Its stalls are the
 * pool task's, on the worker's thread.
 */
export const POOL_ROUTE = { method: 'GET', route: '/api/images/:id/thumbnail', task: 'examples/demo/images.mjs#thumbnail', fn: 'sharpen', thread: 'image-pool', pool: 'images' };

export function createApp(guard, { images } = {}) {
  const app = express();
  app.disable('x-powered-by');

  // Observability endpoints come before the middleware: Prometheus scrapes
  // and the live page's polling are not the traffic we want to measure.
  app.get('/metrics', guard.metricsHandler());
  app.use('/loopguard', guard.dashboardHandler());
  app.use(loopGuard(guard));

  // Fast routes: answered from memory.
  app.get('/health', (req, res) => res.json({ ok: true }));
  app.get('/api/products', (req, res) => res.json(shop.PRODUCTS.slice(0, 20)));
  app.get('/api/products/:id', (req, res) => {
    const product = shop.PRODUCTS.find((p) => p.id === Number(req.params.id));
    if (!product) return res.status(404).json({ error: 'not found' });
    res.json(product);
  });

  // Routes that await I/O: they are in flight when a stall hits, and wait through it (victims).
  app.get('/api/orders/:id', async (req, res) => {
    const [order] = await shop.db.query([{ id: req.params.id, status: 'shipped', items: 3 }]);
    res.json(order);
  });
  app.get('/api/cart', async (req, res) => {
    const items = await shop.db.query(shop.PRODUCTS.slice(0, 3), 25);
    res.json({ items, total: items.reduce((sum, p) => sum + p.price, 0) });
  });

  // Routes that block the loop.
  app.post('/api/login', express.json(), (req, res) => {
    const hash = shop.hashPassword(String(req.body?.password ?? ''), String(req.body?.email ?? ''));
    res.json({ ok: hash.length === 128 });
  });
  // The fixed login: the hash runs on libuv's thread pool. The loop is fine; under a rush the pool is not.
  app.post('/api/login/async', express.json(), async (req, res) => {
    const hash = await shop.hashPasswordAsync(String(req.body?.password ?? ''), String(req.body?.email ?? ''));
    res.json({ ok: hash.length === 128 });
  });
  app.get('/api/feed', (req, res) => res.json({ items: shop.readFeed(20) }));
  app.get('/api/users/check-email', (req, res) => res.json({ valid: shop.isValidEmail(String(req.query.email ?? '')) }));
  app.get('/api/reports/monthly', async (req, res) => res.json(await shop.buildMonthlyReport()));
  app.get('/api/invoices/:id/pdf', (req, res) => res.json({ invoice: req.params.id, lines: shop.loadInvoiceTemplate() }));

  // The CPU work moved to a worker pool: the request only awaits it.
  if (images) {
    app.get('/api/images/:id/thumbnail', async (req, res) => {
      res.json(await images.run({ id: Number(req.params.id) }));
    });
  }

  return app;
}
