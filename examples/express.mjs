// loopguard on Express, in one file. Run it after a build:
//   npm run build && node examples/express.mjs      (PORT=0 for any free port)
// then `curl -X POST localhost:3000/login` and watch the stall it reports.
import crypto from 'node:crypto';
import express from 'express';
import { culpritFrame, formatFrame, loopGuard } from 'loopguard';

const guarded = loopGuard({
  thresholdMs: 100,
  onStall(report) {
    const frame = culpritFrame(report.stack);
    const who = report.route ? `${report.method} ${report.route}` : `(${report.cause})`;
    console.warn(`stall ${report.durationMs} ms by ${who} in ${frame ? formatFrame(frame, process.cwd()) : 'an unknown frame'}, ${report.victims} victims`);
  },
});
const { guard } = guarded;

const app = express();
// Before the middleware: scrapes and the live page are not traffic to measure.
app.get('/metrics', guard.metricsHandler());
app.use('/loopguard', guard.dashboardHandler());
app.use(guarded);

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
  console.log(`  metrics  ${url}/metrics`);
});

function shutdown() {
  server.close(() => guard.close());
  server.closeAllConnections();
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
