// loopguard on Koa with @koa/router, in one file. Run it after a build:
//   npm run build && node examples/koa.mjs      (PORT=0 for any free port)
// then `curl -X POST localhost:3000/login` and watch the stall it reports.
import crypto from 'node:crypto';
import Koa from 'koa';
import Router from '@koa/router';
import { register } from 'prom-client';
import { createLoopGuard, culpritFrame, formatFrame } from 'loopguard';
import { loopGuard } from 'loopguard/koa';

const guard = createLoopGuard({
  thresholdMs: 100,
  onStall(report) {
    const frame = culpritFrame(report.stack);
    const who = report.route ? `${report.method} ${report.route}` : `(${report.cause})`;
    console.warn(`stall ${report.durationMs} ms by ${who} in ${frame ? formatFrame(frame, process.cwd()) : 'an unknown frame'}, ${report.victims} victims`);
  },
});

const app = new Koa();
// Before the loopguard middleware: scrapes and the live page are not traffic to measure.
const dashboard = guard.dashboardHandler();
app.use(async (ctx, next) => {
  if (ctx.path === '/metrics') {
    ctx.type = register.contentType;
    ctx.body = await register.metrics();
  } else if (ctx.path === '/loopguard' || ctx.path.startsWith('/loopguard/')) {
    ctx.respond = false; // the page's handler answers on Node's own response
    dashboard(ctx.req, ctx.res);
  } else {
    await next();
  }
});
app.use(loopGuard(guard));

const router = new Router();
router.get('/hello', (ctx) => {
  ctx.body = { hello: 'world' };
});
router.post('/login', async (ctx) => {
  const { password = '' } = JSON.parse((await readBody(ctx.req)) || '{}');
  ctx.body = { token: hashPassword(String(password)).slice(0, 16) };
});
app.use(router.routes());

// The mistake loopguard finds: a synchronous hash (OWASP's 600 000 rounds of PBKDF2-SHA256) holds
// the event loop for ~200-400 ms, well past the 100 ms threshold on a fast or a loaded machine.
function hashPassword(password) {
  return crypto.pbkdf2Sync(password, 'per-user-salt', 600_000, 64, 'sha256').toString('hex');
}

async function readBody(req) {
  let text = '';
  for await (const chunk of req.setEncoding('utf8')) text += chunk;
  return text;
}

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  console.log(`koa example listening on ${url}`);
  console.log(`  try      curl -X POST ${url}/login`);
  console.log(`  live     ${url}/loopguard/`);
  console.log(`  metrics  ${url}/metrics`);
});

function shutdown() {
  server.close(() => guard.close());
  server.closeAllConnections();
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
