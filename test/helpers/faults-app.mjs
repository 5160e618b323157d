// The faulty Express app of the reliability-faults tests, with or without loopguard, and a raw-bytes client.
import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import express from 'express';
import { loopGuard } from 'loopguard';
import { listen } from './server.mjs';
import { burnCpu } from '../fixtures/blocking.mjs';

function buildApp(middleware, closed) {
  const app = express();
  app.set('env', 'production'); // error pages without stacks, which would differ by our own frames
  if (middleware) app.use(middleware);
  const announceClose = (res) => res.on('close', () => closed.emit('closed', res.req.url));
  app.get('/sync-throw', () => {
    throw new Error('boom');
  });
  app.get('/async-throw', async () => {
    await new Promise((resolve) => setImmediate(resolve));
    throw new Error('async boom');
  });
  app.get('/next-err', (req, res, next) => next(Object.assign(new Error('teapot'), { status: 418 })));
  app.get('/stream', async (req, res) => {
    res.setHeader('content-type', 'text/plain');
    for (let i = 0; i < 5; i++) {
      res.write(`chunk ${i}\n`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    res.end('end\n');
  });
  app.post('/echo', express.json(), (req, res) => res.json({ got: req.body }));
  app.get('/slow', (req, res) => {
    announceClose(res);
    setTimeout(() => res.send('late'), 300);
  });
  app.get('/never', (req, res) => announceClose(res));
  app.get('/stall-then-answer', (req, res) => {
    announceClose(res);
    // The headers go out before the stall (flushHeaders writes at once), so the
    // client can hang up while the loop is blocked, not on a timer.
    res.flushHeaders();
    burnCpu(300);
    res.end('after stall');
  });
  return app;
}

export async function start(withGuard) {
  const closed = new EventEmitter();
  const middleware = withGuard ? loopGuard({ startupGraceMs: 0, prometheus: false }) : undefined;
  const server = await listen(buildApp(middleware, closed));
  server.server.on('upgrade', (req, socket) => {
    socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  });
  return { ...server, guard: middleware?.guard, closed };
}

/** Sends raw bytes, returns every byte of the answer with the Date header blanked. */
export async function raw(url, request) {
  const { port } = new URL(url);
  const socket = net.connect(Number(port), '127.0.0.1');
  const chunks = [];
  socket.on('data', (c) => chunks.push(c));
  socket.write(request); // keep our side open: the server closes after answering (Connection: close)
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('latin1').replace(/^Date: .*$/m, 'Date: -');
}

export const REQUESTS = {
  'sync throw': 'GET /sync-throw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'async throw': 'GET /async-throw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'next(err)': 'GET /next-err HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'chunked stream': 'GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  HEAD: 'HEAD /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  OPTIONS: 'OPTIONS /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'JSON body': 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{"a":[1]}',
  'bad JSON body': 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{"a":',
  'not found': 'GET /missing?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'WebSocket upgrade': 'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  'malformed request': 'GARBAGE\r\n\r\n',
};

