// The per-request entry (src/adapters/entry.ts) where a request ends in an
// unusual way: pipelined requests on one socket, responses no node:http
// server made (http2 compatibility), and an Express app whose middleware
// layer retired, served by a second server. No stall here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { EventEmitter, once } from 'node:events';
import express from 'express';
import { createLoopGuard, loopGuard } from 'loopguard';
import { withLoopGuard } from 'loopguard/http';
import { listen, waitFor } from '../helpers/server.mjs';
import { eventually } from '../helpers/prometheus.mjs';

const quiet = { prometheus: false, otel: false, startupGraceMs: 0 };
const requestsOf = (guard) => Object.fromEntries(guard.snapshot().routes.map((r) => [r.route, r.requests]));

test('pipelined requests on one socket are each counted; a client gone with two in flight releases both', async () => {
  const guard = createLoopGuard(quiet);
  const arrived = new EventEmitter();
  const server = await listen(
    withLoopGuard(
      (req, res) => {
        arrived.emit('request', req.url);
        if (req.url.startsWith('/never')) return; // answered never: only the client's hang-up ends them
        res.end('ok');
      },
      { guard, route: (req) => (req.url.startsWith('/never') ? '/never' : '/ok') },
    ),
  );
  const { port } = new URL(server.url);
  try {
    // Two answered requests in one write, then one more that is never answered.
    const socket = net.connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.on('data', (d) => (received += d));
    socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n');
    while ((received.match(/HTTP\/1\.1 200/g) ?? []).length < 2) await once(socket, 'data');
    // Two in flight on the socket at once: the second gets a close listener of its own.
    const never = waitFor(arrived, 'request', (url) => url === '/never2');
    socket.write('GET /never1 HTTP/1.1\r\nHost: x\r\n\r\nGET /never2 HTTP/1.1\r\nHost: x\r\n\r\n');
    await never;
    assert.equal(guard.snapshot().requestsInFlight, 2);
    socket.destroy();
    await eventually(() => guard.snapshot().requestsInFlight === 0, { timeoutMs: 5000, everyMs: 10 });
    assert.deepEqual(requestsOf(guard), { '/ok': 2, '/never': 2 });
  } finally {
    await server.close();
    guard.close();
  }
});

test('http2 compatibility responses (no node:http server) finish through their own close: counted, and nothing left in flight', async () => {
  const guard = createLoopGuard(quiet);
  const arrived = new EventEmitter();
  const handler = withLoopGuard(
    (req, res) => {
      arrived.emit('request', req.url);
      if (req.url === '/hang') return;
      res.end('ok');
    },
    { guard, route: (req) => (req.url === '/hang' ? '/hang' : '/h2') },
  );
  const server = http2.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = http2.connect(`http://127.0.0.1:${server.address().port}`);
  try {
    for (let i = 0; i < 2; i++) {
      const stream = client.request({ ':path': '/ok' });
      stream.resume();
      await once(stream, 'end');
    }
    const hung = waitFor(arrived, 'request', (url) => url === '/hang');
    const stream = client.request({ ':path': '/hang' });
    stream.on('error', () => {});
    await hung;
    assert.equal(guard.snapshot().requestsInFlight, 1);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await once(stream, 'close');
    await eventually(() => guard.snapshot().requestsInFlight === 0, { timeoutMs: 5000, everyMs: 10 });
    assert.deepEqual(requestsOf(guard), { '/h2': 2, '/hang': 1 });
  } finally {
    client.close();
    server.close();
    guard.close();
  }
});

test('Express: the middleware layer retires once the channel opens the requests, and a second server of the same app stays tracked', async () => {
  const middleware = loopGuard(quiet);
  const app = express();
  app.use(middleware);
  app.get('/x', (req, res) => res.send('x'));
  const first = await listen(app);
  const second = await listen(http.createServer(app));
  try {
    for (let i = 0; i < 3; i++) assert.equal(await (await fetch(`${first.url}/x`)).text(), 'x');
    const layer = app.router.stack.find((l) => l.handle === middleware);
    assert.ok(Object.hasOwn(layer, 'match') && layer.match('/x') === false, 'retired: it matches nothing');
    for (let i = 0; i < 3; i++) assert.equal(await (await fetch(`${second.url}/x`)).text(), 'x');
    assert.deepEqual(requestsOf(middleware.guard), { '/x': 6 });
    assert.equal(middleware.guard.snapshot().requestsInFlight, 0);
  } finally {
    await first.close();
    await second.close();
    middleware.guard.close();
  }
});
