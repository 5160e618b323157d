#!/usr/bin/env node
// `npm run demo`: a shop API that blocks its event loop in five realistic
// ways, a thumbnail route whose pool task sometimes holds its worker thread,
// loopguard watching both, traffic from a separate process, and a live view
// of who blocks the loop and who waits.
//
//   node examples/demo/index.mjs [--port 3000] [--duration SECONDS]
import { fork } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Piscina } from 'piscina';
import { createLoopGuard } from 'loopguard';
import { createApp, POOL_ROUTE } from './app.mjs';
import { buildFeed, buildOrders, writeInvoiceTemplate } from './handlers.mjs';
import { renderScreen, renderTick, screen } from './terminal.mjs';

const USAGE = 'usage: node examples/demo/index.mjs [--port N (default 3000, 0 for any free port)] [--duration SECONDS (default: until Ctrl-C)]';

function parseCli(argv) {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string', default: '3000' }, duration: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const port = Number(values.port);
  const duration = values.duration === undefined ? undefined : Number(values.duration);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`--port must be a port number, got ${values.port}\n${USAGE}`);
  if (duration !== undefined && !(duration > 0)) throw new TypeError(`--duration must be a positive number of seconds, got ${values.duration}\n${USAGE}`);
  return { port, portGiven: argv.some((a) => a === '--port' || a.startsWith('--port=')), duration };
}

/** Listens on loopback; the default port falls back to any free one when it is taken. */
async function listen(server, port, portGiven) {
  try {
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
  } catch (err) {
    if (err.code !== 'EADDRINUSE' || portGiven) throw err;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  }
  return server.address().port;
}

/** The first `event`, or undefined after timeoutMs: the demo runs without what it announces. */
function waitForEvent(emitter, event, timeoutMs) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      emitter.off(event, onEvent);
      resolve(undefined);
    }, timeoutMs);
    function onEvent(value) {
      clearTimeout(timer);
      resolve(value);
    }
    emitter.once(event, onEvent);
  });
}

async function main() {
  const { port: wantedPort, portGiven, duration } = parseCli(process.argv.slice(2));
  const tty = Boolean(process.stdout.isTTY);
  const root = process.cwd();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'loopguard-demo-'));

  console.log('loopguard demo: preparing data (a product feed, an orders table, an invoice template)…');
  buildFeed();
  buildOrders();
  writeInvoiceTemplate(path.join(tmp, 'invoice-template.html'));

  // The defaults, as a newcomer would start (100 ms threshold, stacks captured,
  // the installed Prometheus client's default registry), plus a second /metrics served by the
  // watchdog thread, which answers even while the main thread is blocked.
  const guard = createLoopGuard({ thresholdMs: 100, metricsServer: { port: 0 } });
  const workerMetrics = waitForEvent(guard, 'metrics:listening', 5000);
  // Thumbnails in two worker threads; images.mjs watches its worker, and the pool's queue is watched from here.
  const images = new Piscina({ filename: fileURLToPath(new URL('./images.mjs', import.meta.url)), name: 'thumbnail', minThreads: 2, maxThreads: 2 });
  guard.watchPool(images, { name: POOL_ROUTE.pool });
  const app = createApp(guard, { images });
  const server = createServer(app);
  const base = `http://127.0.0.1:${await listen(server, wantedPort, portGiven)}`;
  const offThread = await workerMetrics;
  const header = [
    `loopguard demo · ${base} · ${duration ? `runs ${duration} s` : 'Ctrl-C to stop'}`,
    `live page  ${base}/loopguard/`,
    `metrics    ${base}/metrics`,
    ...(offThread ? [`           ${offThread.url}  (served by the watchdog thread: answers during stalls)`] : []),
  ];
  for (const line of header) console.log(line);

  const load = fork(fileURLToPath(new URL('./load.mjs', import.meta.url)), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  let loadStats = { sent: 0, ok: 0, failed: 0 };
  load.on('message', (msg) => {
    if (msg?.type === 'stats') loadStats = msg;
    else if (msg?.type === 'error') console.error(`load generator: ${msg.message}`);
  });
  load.send({ type: 'start', base, durationMs: duration ? duration * 1000 : undefined });

  const startedAt = Date.now();
  let previousStalls = 0;
  if (tty) process.stdout.write(screen.enter);
  const draw = () => {
    const snapshot = guard.snapshot();
    const elapsed = Math.round((Date.now() - startedAt) / 1000);
    if (tty) {
      const lines = renderScreen(snapshot, {
        root,
        width: process.stdout.columns || 120,
        color: true,
        header: [...header, `${elapsed} s elapsed · load: ${loadStats.sent} requests sent from a separate process (${loadStats.failed} failed)`],
      });
      process.stdout.write(screen.redraw + lines.map((l) => `${l}\x1b[K`).join('\n') + '\x1b[J');
    } else {
      for (const line of renderTick(snapshot, { root, elapsedSeconds: elapsed, previousStalls })) console.log(line);
    }
    previousStalls = snapshot.stallsTotal;
  };
  const ticker = setInterval(draw, 1000);

  let stopping = false;
  let deadline;
  const stop = async (why) => {
    if (stopping) return;
    stopping = true;
    clearInterval(ticker);
    clearTimeout(deadline);
    if (load.connected) load.send({ type: 'stop' });
    const exited = load.exitCode !== null || load.signalCode !== null ? Promise.resolve() : once(load, 'exit');
    const killer = setTimeout(() => load.kill(), 3000);
    await exited;
    clearTimeout(killer);
    const finalSnapshot = guard.snapshot();
    await new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    });
    await images.destroy();
    guard.close();
    fs.rmSync(tmp, { recursive: true, force: true });
    if (tty) process.stdout.write(screen.leave);
    const summary = renderScreen(finalSnapshot, {
      root,
      width: Math.max(100, process.stdout.columns || 120),
      color: tty,
      header: [`loopguard demo summary (${why}) · ${loadStats.sent} requests sent, ${loadStats.failed} failed`],
    });
    console.log(['', ...summary, ''].join('\n'));
  };

  // A second Ctrl-C while shutting down means "now".
  process.on('SIGINT', () => (stopping ? process.exit(130) : void stop('interrupted')));
  process.on('SIGTERM', () => void stop('terminated'));
  if (duration) deadline = setTimeout(() => void stop(`${duration} s elapsed`), duration * 1000);
}

main().catch((err) => {
  console.error(err instanceof TypeError ? err.message : err);
  process.exit(1);
});
