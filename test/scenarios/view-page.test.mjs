// The live page in a real browser: headless Chromium opens it while a
// forked client drives blocking traffic, waits for the culprit table and the
// chart to fill, checks that hostile route and function names stay text,
// and saves a screenshot under test-output/ for a person to look at.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import express from 'express';
import { Registry } from 'prom-client';
import { chromium } from 'playwright-core';
import { loopGuard } from 'loopguard';
import { forkClient } from '../helpers/client.mjs';
import { listen, waitFor } from '../helpers/server.mjs';
import { toolPath } from '../helpers/system-tools.mjs';

const CHROMIUM_ARGS = ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const HOSTILE_ROUTE = '/q/<b>bold<i>';
const HOSTILE_FN = '<img src=x onerror=window.__pwned=1>';

// The blocking loops are inline so each function is the top app frame of its stall.
function renderInvoiceSync(ms) {
  const end = performance.now() + ms;
  let total = 0;
  while (performance.now() < end) total += Math.sqrt(total + 1);
  return total;
}
// A function whose name is markup: V8 reports it as the frame's function name.
const hostile = {
  [HOSTILE_FN](ms) {
    const end = performance.now() + ms;
    let x = 0;
    while (performance.now() < end) x += Math.sqrt(x + 1);
    return x;
  },
}[HOSTILE_FN];

let guard, server, client, browser;
import { hashPassword } from '../fixtures/app-code.mjs';

before(async () => {
  // Launched first: starting a browser is not something the guard should see.
  browser = await chromium.launch({ executablePath: toolPath('chromium'), args: CHROMIUM_ARGS });
  const middleware = loopGuard({ thresholdMs: 100, startupGraceMs: 0, prometheus: { registry: new Registry() } });
  guard = middleware.guard;
  const app = express();
  // Mounted before the middleware, so the page's own polling is not counted as traffic.
  app.use('/loopguard', guard.dashboardHandler());
  app.use(middleware);
  app.get('/io', async (req, res) => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    res.json({ ok: true });
  });
  app.get('/invoices/:id', (req, res) => res.json({ id: req.params.id, total: renderInvoiceSync(250) }));
  app.get(HOSTILE_ROUTE, (req, res) => res.send(String(hostile(200))));
  app.post('/login', (req, res) => res.json(hashPassword('correct horse battery staple')));
  server = await listen(app);
  client = await forkClient();
});

after(async () => {
  await browser?.close();
  await client?.close();
  await server?.close();
  guard?.close();
});

/** A raw path with '<' and '>' (fetch would percent-encode them, and Express matches the raw path). */
function rawGet(path) {
  return new Promise((resolve, reject) => {
    const { port } = server.server.address();
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    }).on('error', reject);
  });
}

test('the live page shows the blocking route, its function, victims and a chart with data', async () => {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  const cspErrors = [];
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) cspErrors.push(msg.text());
  });
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  const response = await page.goto(`${server.url}/loopguard`);
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-security-policy'], /default-src 'none'/);

  // With no startup grace, the one thing before a named report is the watchdog thread starting.
  if (!guard.watchdogRunning) await waitFor(guard, 'watchdog:ready');
  await client.startVictims(`${server.url}/io`, 4);
  // Every blocking request is blamed on its route. Stalls the OS adds on a loaded machine (short,
  // background) are not these requests' and are let pass; a victim blamed would be a request stall.
  const blamedFor = async (request) => {
    const seen = [];
    const collect = (r) => seen.push(r);
    guard.on('stall', collect);
    try {
      const from = Date.now();
      assert.equal(await request(), 200);
      const to = Date.now();
      // The request's own stall: a request stall, or a long one inside its time that no request was named for.
      const ours = (r) => r.cause === 'request' || (r.durationMs >= 200 && r.startedAt <= to && r.startedAt + r.durationMs >= from);
      return (seen.find(ours) ?? (await waitFor(guard, 'stall', ours, 15_000))).route;
    } finally {
      guard.off('stall', collect);
    }
  };
  for (let i = 0; i < 2; i++) {
    assert.equal(await blamedFor(async () => (await client.request(`${server.url}/invoices/${i}`)).status), '/invoices/:id', `stall ${i + 1} blamed on /invoices/:id`);
  }
  assert.equal(await blamedFor(() => rawGet(HOSTILE_ROUTE)), HOSTILE_ROUTE, 'the stall is blamed on the hostile route');
  const loginStall = waitFor(guard, 'stall', (r) => r.route === '/login', 15_000);
  assert.equal((await client.request(`${server.url}/login`, { method: 'POST' })).status, 200);
  const login = await loginStall;
  assert.equal(login.advice?.call, 'crypto.pbkdf2Sync', `advice for the /login stall: ${JSON.stringify(login.advice)}`);
  await client.stopVictims();

  // The page polls once a second: wait for it to show at least what the guard knows now.
  const counted = guard.snapshot().culprits.find((c) => c.route === '/invoices/:id').stalls;
  await page.waitForFunction(
    (atLeast) => {
      const row = document.querySelector('#culprits tbody tr[data-route="/invoices/:id"]');
      const chart = document.getElementById('delay-chart');
      const login = document.querySelector('#culprits tbody tr[data-route="/login"] .advice');
      return row !== null && row.textContent.includes('renderInvoiceSync') && Number(row.cells[1].textContent) >= atLeast && login !== null &&
        Number(chart.dataset.points) >= 3 && Number(chart.dataset.stalls) >= 1 &&
        Number(document.getElementById('elu-chart').dataset.points) >= 3;
    },
    counted,
    { timeout: 20_000, polling: 250 },
  ).catch(async (err) => {
    fs.mkdirSync('test-output', { recursive: true });
    await page.screenshot({ path: 'test-output/view-page-timeout.png', fullPage: true });
    const state = await page.evaluate(() => ({
      rows: [...document.querySelectorAll('#culprits tbody tr')].map((r) => r.textContent),
      points: document.getElementById('delay-chart').dataset.points,
      stalls: document.getElementById('delay-chart').dataset.stalls,
      status: document.getElementById('status').textContent,
    }));
    throw new Error(`${err.message}; page state ${JSON.stringify(state)}; errors ${pageErrors} ${cspErrors}`);
  });

  const culprit = await page.$eval('#culprits tbody tr[data-route="/invoices/:id"]', (tr) => [...tr.cells].map((c) => c.textContent));
  assert.equal(culprit[0], 'GET/invoices/:id');
  assert.ok(counted >= 2);
  const countedNow = guard.snapshot().culprits.find((c) => c.route === '/invoices/:id').stalls;
  assert.ok(Number(culprit[1]) >= counted && Number(culprit[1]) <= countedNow, `the page counts what the guard counted (${counted}..${countedNow}): ${culprit}`);
  const topFrame = await page.$eval('#culprits tbody tr[data-route="/invoices/:id"] .frame', (e) => e.textContent);
  assert.match(topFrame, /^renderInvoiceSync \(test\/scenarios\/view-page\.test\.mjs:\d+\)$/, 'top frame relative to the app root');
  assert.ok(culprit[3].startsWith(topFrame), culprit[3]);

  // Each culprit route says what to do about it: the call, the fix, and a link to the README's before/after.
  const advice = await page.$eval('#culprits tbody tr[data-route="/login"] .advice', (e) => ({
    call: e.querySelector('.advice-call').textContent,
    text: e.textContent,
    href: e.querySelector('a').href,
  }));
  assert.equal(advice.call, 'crypto.pbkdf2Sync');
  assert.match(advice.text, /crypto\.pbkdf2 with a callback/);
  assert.match(advice.href, /#advice-sync-crypto$/);

  const victim = await page.$eval('#victims tbody tr[data-route="/io"]', (tr) => [...tr.cells].map((c) => c.textContent));
  const victimP99 = parseFloat(victim[2]) * (victim[2].endsWith(' s') ? 1000 : 1);
  assert.ok(victimP99 >= 100, `victims of /io waited through the stalls: ${victim}`);

  // Loop time by route: the busy-time shares from snapshot.json, with their sample count.
  await page.waitForFunction(() => /\d+ samples/.test(document.getElementById('looptime-samples').textContent), null, { timeout: 10_000, polling: 250 });
  const loopTime = await page.$$eval('#looptime tbody tr', (rows) => rows.map((tr) => [...tr.cells].map((c) => c.textContent)));
  for (const [route, share, interval] of loopTime) {
    assert.match(share, /^\d+ %$/, `share of ${route}`);
    assert.match(interval, /^\d+–\d+ %$/, `interval of ${route}`);
  }

  // Markup in route templates and function names is shown as text and never runs.
  const hostileRow = await page.$eval(`#culprits tbody tr[data-route="${HOSTILE_ROUTE}"]`, (tr) => ({
    route: tr.cells[0].textContent,
    frame: tr.cells[3].textContent,
    elements: tr.querySelectorAll('b, i, img').length,
  }));
  assert.equal(hostileRow.route, `GET${HOSTILE_ROUTE}`);
  assert.ok(hostileRow.frame.startsWith(HOSTILE_FN), hostileRow.frame);
  assert.equal(hostileRow.elements, 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);

  // A stall's stack opens on a click, to app-relative paths; the absolute layout of this machine never reaches the page.
  const invoiceStall = page.locator('#stalls details', { has: page.locator('summary .route', { hasText: /^\/invoices\/:id$/ }) }).first();
  const appFrame = invoiceStall.locator('ol li.app', { hasText: 'renderInvoiceSync' }).first();
  assert.equal(await appFrame.isVisible(), false, 'the stack is folded until clicked');
  await invoiceStall.locator('summary').click();
  // The page redraws every second and must keep the stall open.
  await page.waitForFunction(() => document.querySelector('#stalls details[open] ol li.app') !== null, null, { timeout: 5000, polling: 100 });
  assert.equal(await appFrame.isVisible(), true, 'the click opened the stack');
  assert.match(await appFrame.innerText(), /^renderInvoiceSync test\/scenarios\/view-page\.test\.mjs:\d+:\d+$/);
  const pageText = await page.evaluate(() => document.body.innerText);
  assert.ok(!pageText.includes(process.cwd()), 'no absolute path of the app on the page');
  assert.equal(await page.getAttribute('body', 'data-state'), 'live');
  assert.equal(await page.isHidden('#shed'), true, 'no shedding pill when shedding is off');
  assert.deepEqual(cspErrors, [], 'the inline style and script are allowed by the page CSP');
  assert.deepEqual(pageErrors, []);

  fs.mkdirSync('test-output', { recursive: true });
  await page.screenshot({ path: 'test-output/view-page.png', fullPage: true });
  await page.close();
});

test('the live page names the worker thread that stalled, and only a worker\'s', async () => {
  // A hand-made pool's worker (its task named with guard.task), watched by this test's guard.
  const worker = new Worker(fileURLToPath(new URL('../fixtures/watched-worker.mjs', import.meta.url)), { name: 'resizer', workerData: { name: 'resizer' } });
  let page;
  try {
    // Listened for before anything else is awaited: a worker's message with no listener is lost.
    const [hello] = await once(worker, 'message');
    assert.equal(hello.type, 'watched');
    page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const stalled = waitFor(guard, 'stall', (r) => r.thread === 'resizer' && r.route === 'resize');
    worker.postMessage({ type: 'task', name: 'resize', ms: 300 });
    await once(worker, 'message');
    await stalled;
    await page.goto(`${server.url}/loopguard`);
    await page.waitForFunction(() => document.querySelector('#stalls details[data-thread="resizer"]') !== null, null, { timeout: 20_000, polling: 250 });
    assert.equal(await page.$eval('#culprits tbody tr[data-route="resize"] td.routecell', (td) => td.textContent), 'resizethread resizer');
    assert.equal(await page.$eval('#stalls details[data-thread="resizer"] summary .thread', (e) => e.textContent), 'thread resizer');
    // The main thread, the common case, is not named.
    assert.equal(await page.$$eval('#culprits tbody tr[data-route="/invoices/:id"] .thread', (els) => els.length), 0);
  } finally {
    await page?.close();
    await worker.terminate();
  }
});

test('the JSON snapshot holds route templates and app-relative files only', async () => {
  const res = await fetch(`${server.url}/loopguard/snapshot.json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const text = await res.text();
  assert.ok(!text.includes(process.cwd()), 'no absolute path of the app in the JSON');
  assert.ok(!text.includes('/invoices/0') && !text.includes('/invoices/1'), 'no raw URL in the JSON');
  const body = JSON.parse(text);
  assert.ok(body.history.length >= 3);
  // Not over empty arrays: a snapshot with no stall or no frame would check nothing.
  const frames = body.recentStalls.flatMap((s) => s.stack);
  assert.ok(body.recentStalls.length > 0 && frames.length > 0, `stalls with frames: ${JSON.stringify(body.recentStalls)}`);
  assert.ok(frames.every((f) => typeof f.file === 'string' && !f.file.startsWith('/')), JSON.stringify(frames));
  assert.ok(body.culprits.some((c) => c.route === '/invoices/:id'));
});
