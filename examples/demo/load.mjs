// The demo's traffic, forked into its own process so that requests keep
// arriving while the service's event loop is blocked. Bounded on purpose: a
// few dozen requests a second (and a periodic login rush of 16 in flight),
// loopback only, and it stops by itself.
import { setTimeout as sleep } from 'node:timers/promises';

const FAST_CLIENTS = 4;
/** Each fast client waits at least this long between requests: ≤ 4 × (1000 / 150) ≈ 27 req/s. */
const FAST_PERIOD_MS = 150;
/** One blocking request every 0.8–1.4 s after the previous one answered, round robin over the blocking routes. */
const BLOCKING_PERIOD_MS = [800, 1400];
const REQUEST_TIMEOUT_MS = 10_000;
/** Without --duration the demo runs until Ctrl-C; the load still stops after this. */
const MAX_RUN_MS = 2 * 60 * 60 * 1000;

// Thumbnails of the usual small originals: quick for the pool, unless they queue behind a large one.
const FAST = ['/api/products', '/api/products/7', '/health', '/api/orders/1042', '/api/cart', '/api/images/12/thumbnail', '/api/products/12', '/api/orders/77', '/api/images/31/thumbnail'];
const BLOCKING = [
  { method: 'POST', path: '/api/login', body: { email: 'ada@example.com', password: 'correct horse battery staple' } },
  { path: '/api/feed' },
  // A long input with no '@': what a user pasting the wrong field sends.
  { path: `/api/users/check-email?email=${'a'.repeat(28)}` },
  { path: '/api/reports/monthly' },
  { path: '/api/invoices/2024-0042/pdf' },
  // A large original (id ≥ 1000): ~300 ms in a pool worker, not on the loop.
  { path: '/api/images/4096/thumbnail' },
];

/**
 * A login rush on the fixed (async) login: 16 in flight for 12 s, every 30 s
 * from 15 s on (once the blocking routes have been caught). The loop stays healthy; libuv's pool of 4 queues.
 */
const RUSH = { inFlight: 16, startMs: 15_000, everyMs: 30_000, lastsMs: 12_000 };
/** A rush queues by design: its logins may wait seconds for a thread, which is the point, not a failure. */
const RUSH_TIMEOUT_MS = 60_000;
const RUSH_LOGIN = { method: 'POST', path: '/api/login/async', body: { email: 'grace@example.com', password: 'correct horse battery staple' } };

const stats = { sent: 0, ok: 0, failed: 0 };
let running = false;

async function hit(base, { method = 'GET', path, body }, timeoutMs = REQUEST_TIMEOUT_MS) {
  try {
    const res = await fetch(base + path, {
      method,
      headers: body ? { 'content-type': 'application/json' } : undefined,
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer();
    stats[res.ok ? 'ok' : 'failed']++;
  } catch {
    if (running) stats.failed++;
  } finally {
    stats.sent++;
  }
}

async function fastClient(base, offset, deadline) {
  for (let i = offset; running && Date.now() < deadline; i++) {
    const started = Date.now();
    await hit(base, { path: FAST[i % FAST.length] });
    await sleep(Math.max(0, FAST_PERIOD_MS - (Date.now() - started)));
  }
}

/** loopguard ignores stalls during its first second (startupGraceMs: warm-up is not an incident); start blocking after it. */
const BLOCKING_START_MS = 2000;

async function blockingClient(base, deadline) {
  await sleep(BLOCKING_START_MS);
  for (let i = 0; running && Date.now() < deadline; i++) {
    await hit(base, BLOCKING[i % BLOCKING.length]);
    const [min, max] = BLOCKING_PERIOD_MS;
    await sleep(min + Math.random() * (max - min));
  }
}

async function rushClient(base, deadline) {
  await sleep(RUSH.startMs);
  while (running && Date.now() < deadline) {
    const rushEnds = Math.min(deadline, Date.now() + RUSH.lastsMs);
    const one = async () => {
      while (running && Date.now() < rushEnds) await hit(base, RUSH_LOGIN, RUSH_TIMEOUT_MS);
    };
    await Promise.all(Array.from({ length: RUSH.inFlight }, one));
    await sleep(RUSH.everyMs - RUSH.lastsMs);
  }
}

function isLoopback(url) {
  const { hostname } = new URL(url);
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

async function run({ base, durationMs }) {
  if (!isLoopback(base)) throw new Error(`the demo load only targets loopback, not ${base}`);
  running = true;
  const deadline = Date.now() + Math.min(durationMs ?? MAX_RUN_MS, MAX_RUN_MS);
  const report = setInterval(() => process.send?.({ type: 'stats', ...stats }), 1000);
  await Promise.all([...Array.from({ length: FAST_CLIENTS }, (_, i) => fastClient(base, i * 2, deadline)), blockingClient(base, deadline), rushClient(base, deadline)]);
  clearInterval(report);
  process.send?.({ type: 'stats', ...stats, done: true });
}

process.on('message', (msg) => {
  if (msg?.type === 'start') {
    run(msg).then(
      () => process.disconnect?.(),
      (err) => {
        process.send?.({ type: 'error', message: String(err?.message ?? err) });
        process.exit(2);
      },
    );
  } else if (msg?.type === 'stop') {
    running = false;
    process.send({ type: 'stats', ...stats, done: true }, () => process.exit(0));
  }
});
// The demo went away without saying so (killed): stop too.
process.on('disconnect', () => process.exit(0));
