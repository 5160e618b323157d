// The worker-served /metrics endpoint against clients that hold it or hammer
// it: slow-header sockets are closed within seconds while scrapes keep
// answering, and scrapes in quick succession share one collect on the main
// thread. No stall here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { Gauge, Registry } from 'prom-client';
import { createLoopGuard } from 'loopguard';
import { waitFor } from '../helpers/server.mjs';

/** A guard serving metrics from its worker, with a gauge that counts the main thread's collects. */
async function startGuard() {
  const registry = new Registry();
  const counter = { collects: 0 };
  new Gauge({
    name: 'test_collects',
    help: 'collect() calls on the main thread',
    registers: [registry],
    collect() {
      counter.collects++;
      this.set(counter.collects);
    },
  });
  const guard = createLoopGuard({ startupGraceMs: 0, prometheus: { registry }, metricsServer: { port: 0 } });
  // The guard's threads and timers are unref'd, and this test has no server of its own to hold the loop open.
  const holdOpen = setInterval(() => {}, 60_000);
  const { url } = await waitFor(guard, 'metrics:listening');
  return {
    url,
    counter,
    close() {
      clearInterval(holdOpen);
      guard.close();
    },
  };
}

test('slow-header sockets are closed within seconds, and scrapes answer while they are open', async () => {
  const app = await startGuard();
  const { url } = app;
  const { port } = new URL(url);
  const sockets = [];
  try {
    const started = performance.now();
    for (let i = 0; i < 8; i++) {
      const socket = net.connect(Number(port), '127.0.0.1');
      await once(socket, 'connect');
      // Headers that never end: Node's default would keep this socket for 60 s.
      socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      socket.on('error', () => {});
      socket.resume(); // read the server's 408 and its end, so that 'close' can come
      sockets.push({ socket, closed: once(socket, 'close').then(() => performance.now() - started) });
    }
    const res = await fetch(url);
    assert.equal(res.status, 200, 'a scrape answers beside the slow sockets');
    await res.text();
    const closedAfterMs = await Promise.all(sockets.map((s) => s.closed));
    // Closed by the server (headers timeout, checked twice a second), not by us: well under Node's 60 s.
    assert.ok(Math.max(...closedAfterMs) < 15_000, `slow sockets closed after ${closedAfterMs.map(Math.round).join(', ')} ms`);
    const again = await fetch(url);
    assert.equal(again.status, 200);
    await again.text();
  } finally {
    for (const { socket } of sockets) socket.destroy();
    app.close();
  }
});

test('scrapes in quick succession share one collect on the main thread; a later one collects again', async () => {
  const app = await startGuard();
  const { url, counter } = app;
  try {
    const first = await fetch(url);
    assert.equal(first.status, 200);
    await first.text();
    const afterFirst = counter.collects;
    assert.ok(afterFirst >= 1);
    const started = performance.now();
    let scrapes = 0;
    // As many scrapes as fit in half a second: each would have made the main thread collect.
    while (performance.now() - started < 500) {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      await res.text();
      scrapes++;
    }
    assert.ok(scrapes >= 5, `${scrapes} scrapes`);
    assert.ok(counter.collects - afterFirst <= 1, `${counter.collects - afterFirst} collects for ${scrapes} scrapes`);
    // Once the exposition is older than a second, a scrape collects afresh.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const before = counter.collects;
    await (await fetch(url)).text();
    assert.equal(counter.collects, before + 1);
  } finally {
    app.close();
  }
});
