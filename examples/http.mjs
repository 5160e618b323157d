// loopguard on a plain node:http server, in one file. Run it after a build:
//   npm run build && node examples/http.mjs      (PORT=0 for any free port)
// then `curl -X POST localhost:3000/login` and watch the stall it reports.
import crypto from 'node:crypto';
import http from 'node:http';
import { createLoopGuard, culpritFrame, formatFrame } from 'loopguard';
import { withLoopGuard } from 'loopguard/http';

const guard = createLoopGuard({
  thresholdMs: 100,
  onStall(report) {
    const frame = culpritFrame(report.stack);
    const who = report.route ? `${report.method} ${report.route}` : `(${report.cause})`;
    console.warn(`stall ${report.durationMs} ms by ${who} in ${frame ? formatFrame(frame, process.cwd()) : 'an unknown frame'}, ${report.victims} victims`);
  },
});

// A tiny router: the path of a known route is its template; anything else is
// (unmatched). Never hand loopguard the raw URL: it becomes a metric label.
const ROUTES = {
  'GET /hello': (req, res) => json(res, { hello: 'world' }),
  'POST /login': async (req, res) => {
    const { password = '' } = JSON.parse((await readBody(req)) || '{}');
    json(res, { token: hashPassword(String(password)).slice(0, 16) });
  },
};
const pathOf = (req) => (req.url ?? '/').split('?')[0];
const templateOf = (req) => (ROUTES[`${req.method} ${pathOf(req)}`] ? pathOf(req) : null);

const app = withLoopGuard(
  (req, res) => {
    const handler = ROUTES[`${req.method} ${pathOf(req)}`];
    if (!handler) return json(res, { error: 'not found' }, 404);
    Promise.resolve(handler(req, res)).catch((err) => json(res, { error: String(err.message) }, 500));
  },
  { guard, route: templateOf },
);

// The live page and /metrics are answered before the guarded app: not traffic to measure.
const dashboard = guard.dashboardHandler();
const metrics = guard.metricsHandler();
const server = http.createServer((req, res) => {
  const path = pathOf(req);
  if (path === '/metrics') return metrics(req, res);
  if (path === '/loopguard' || path.startsWith('/loopguard/')) return dashboard(req, res);
  app(req, res);
});

// The mistake loopguard finds: a synchronous hash (OWASP's 600 000 rounds of PBKDF2-SHA256) holds
// the event loop for ~200-400 ms, well past the 100 ms threshold on a fast or a loaded machine.
function hashPassword(password) {
  return crypto.pbkdf2Sync(password, 'per-user-salt', 600_000, 64, 'sha256').toString('hex');
}

function json(res, body, status = 200) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req) {
  let text = '';
  for await (const chunk of req.setEncoding('utf8')) text += chunk;
  return text;
}

server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  console.log(`http example listening on ${url}`);
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
