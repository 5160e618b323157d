import dc from 'node:diagnostics_channel';
import http from 'node:http';
import { AsyncLocalStorage } from 'node:async_hooks';
const als = new AsyncLocalStorage();
const log = [];
dc.subscribe('http.server.request.start', ({ request, response }) => { als.enterWith({ id: request.url }); });
dc.subscribe('http.server.response.finish', ({ request, response }) => { log.push(`finish-ch ${request.url} store=${als.getStore()?.id}`); });
const server = http.createServer((req, res) => {
  res.on('finish', () => log.push(`finish-ev ${req.url}`));
  res.on('close', () => log.push(`close-ev ${req.url}`));
  if (req.url === '/body') { let n = 0; req.on('data', () => n++); req.on('end', () => { log.push(`end store=${als.getStore()?.id}`); res.end('ok'); }); return; }
  if (req.url === '/abort') { log.push('abort handler'); globalThis.ab = res; return; }
  setTimeout(() => { log.push(`timer store=${als.getStore()?.id}`); res.end('x'); }, 5);
}).listen(0, async () => {
  const port = server.address().port;
  await fetch(`http://127.0.0.1:${port}/a`).then((r) => r.text());
  await fetch(`http://127.0.0.1:${port}/body`, { method: 'POST', body: 'x'.repeat(100000) }).then((r) => r.text());
  const ac = new AbortController();
  const p = fetch(`http://127.0.0.1:${port}/abort`, { signal: ac.signal }).catch(() => 'aborted');
  await new Promise((r) => setTimeout(r, 50)); ac.abort(); await p;
  await new Promise((r) => setTimeout(r, 50));
  console.log(process.version, JSON.stringify(log), 'aborted res destroyed', ab.destroyed, 'writableFinished', ab.writableFinished, 'closed', ab.closed); process.exit();
});
