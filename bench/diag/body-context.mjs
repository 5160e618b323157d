/**
 * Which AsyncLocalStorage store a request's body events and its finish
 * channel see when the store was entered with `enterWith` at node:http's
 * 'http.server.request.start' channel (as the zero-code start and the
 * Express adapter do), and what an aborted response looks like.
 * Measured 2026-12-01: on 20.20 the body's 'end' sees the request's store;
 * on 24.21 and 26.10 (AsyncContextFrame) it sees none, which is why
 * src/adapters/body-context.ts exists. The finish channel is published
 * before the response's own 'finish' and 'close' events; an aborted
 * response publishes none, is `destroyed` and `closed`, not `writableFinished`.
 *
 *   node bench/diag/body-context.mjs && npx -y -p node@26 node bench/diag/body-context.mjs
 */
import dc from 'node:diagnostics_channel';
import http from 'node:http';
import { AsyncLocalStorage } from 'node:async_hooks';

const als = new AsyncLocalStorage();
const log = [];
let aborted;
dc.subscribe('http.server.request.start', ({ request }) => als.enterWith({ id: request.url }));
dc.subscribe('http.server.response.finish', ({ request }) => log.push(`finish channel ${request.url} store=${als.getStore()?.id}`));
const server = http.createServer((req, res) => {
  res.on('finish', () => log.push(`finish event ${req.url}`));
  res.on('close', () => log.push(`close event ${req.url}`));
  if (req.url === '/body') {
    req.on('data', () => {});
    req.on('end', () => {
      log.push(`body end store=${als.getStore()?.id}`);
      res.end('ok');
    });
    return;
  }
  if (req.url === '/abort') {
    aborted = res;
    return;
  }
  setTimeout(() => {
    log.push(`timer store=${als.getStore()?.id}`);
    res.end('x');
  }, 5);
}).listen(0, async () => {
  const base = `http://127.0.0.1:${server.address().port}`;
  await fetch(`${base}/a`).then((r) => r.text());
  await fetch(`${base}/body`, { method: 'POST', body: 'x'.repeat(100000) }).then((r) => r.text());
  const ac = new AbortController();
  const pending = fetch(`${base}/abort`, { signal: ac.signal }).catch(() => 'aborted');
  await new Promise((r) => setTimeout(r, 50));
  ac.abort();
  await pending;
  await new Promise((r) => setTimeout(r, 50));
  console.log(process.version, log.join(' | '));
  console.log(`aborted response: destroyed ${aborted.destroyed}, closed ${aborted.closed}, writableFinished ${aborted.writableFinished}`);
  process.exit();
});
