// loopguard on Express, in one file, set up as in production: pino for the
// stall reports, and the metrics endpoint served by loopguard's worker thread
// so Prometheus can scrape it while the loop is blocked. Run it after a build:
//   npm run build && node examples/express.mjs      (PORT=0 / METRICS_PORT=0 for any free port)
// then `curl -X POST localhost:3000/login` and watch the stall it reports.
import crypto from 'node:crypto';
import express from 'express';
import pino from 'pino';
import { loopGuard } from 'loopguard';

const logger = pino();
const guarded = loopGuard({
  thresholdMs: 100,
  logger, // each stall: one structured warn line with the route, the stack and the advice
  ignore: ['/healthz'], // probes are not traffic to measure
  // Served by loopguard's worker thread: it answers while the main thread is blocked. No authentication:
  // bind an interface only Prometheus reaches (METRICS_HOST=0.0.0.0 in a container, behind a NetworkPolicy).
  metricsServer: { port: Number(process.env.METRICS_PORT ?? 9464), host: process.env.METRICS_HOST ?? '127.0.0.1' },
});
const { guard } = guarded;
guard.on('metrics:listening', (address) => console.log(`  metrics  ${address.url}`));

const app = express();
app.use('/loopguard', guard.dashboardHandler());
app.use(guarded);

app.get('/healthz', (req, res) => res.send('ok'));
app.get('/hello', (req, res) => res.json({ hello: 'world' }));
app.post('/login', express.json(), (req, res) => {
  res.json({ token: hashPassword(String(req.body?.password ?? '')).slice(0, 16) });
});

// The mistake loopguard finds: a synchronous hash (OWASP's 600 000 rounds of PBKDF2-SHA256) holds
// the event loop for ~200-400 ms, well past the 100 ms threshold on a fast or a loaded machine.
function hashPassword(password) {
  return crypto.pbkdf2Sync(password, 'per-user-salt', 600_000, 64, 'sha256').toString('hex');
}

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  console.log(`express example listening on ${url}`);
  console.log(`  try      curl -X POST ${url}/login`);
  console.log(`  live     ${url}/loopguard/`);
});

function shutdown() {
  server.close(() => guard.close());
  server.closeAllConnections();
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
