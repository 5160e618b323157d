// loopguard on Fastify, in one file. Run it after a build:
//   npm run build && node examples/fastify.mjs      (PORT=0 for any free port)
// then `curl -X POST localhost:3000/login` and watch the stall it reports.
import crypto from 'node:crypto';
import Fastify from 'fastify';
import { register } from 'prom-client';
import { culpritFrame, formatFrame } from 'loopguard';
import { loopGuard } from 'loopguard/fastify';

const app = Fastify();
await app.register(loopGuard, {
  thresholdMs: 100,
  onStall(report) {
    const frame = culpritFrame(report.stack);
    const who = report.route ? `${report.method} ${report.route}` : `(${report.cause})`;
    console.warn(`stall ${report.durationMs} ms by ${who} in ${frame ? formatFrame(frame, process.cwd()) : 'an unknown frame'}, ${report.victims} victims`);
  },
});
const guard = app.loopGuard; // the plugin's guard; closed with the app

// The live page and /metrics. The page's handler works on Node's own request
// and response, so it takes over the reply (hijack).
const dashboard = guard.dashboardHandler();
const showDashboard = (request, reply) => {
  reply.hijack();
  dashboard(request.raw, reply.raw);
};
app.get('/loopguard', showDashboard);
app.get('/loopguard/*', showDashboard);
app.get('/metrics', async (request, reply) => reply.type(register.contentType).send(await register.metrics()));

app.get('/hello', async () => ({ hello: 'world' }));
app.post('/login', async (request) => ({ token: hashPassword(String(request.body?.password ?? '')).slice(0, 16) }));

// The mistake loopguard finds: a synchronous hash (OWASP's 600 000 rounds of PBKDF2-SHA256) holds
// the event loop for ~200-400 ms, well past the 100 ms threshold on a fast or a loaded machine.
function hashPassword(password) {
  return crypto.pbkdf2Sync(password, 'per-user-salt', 600_000, 64, 'sha256').toString('hex');
}

const url = (await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' })).replace('localhost', '127.0.0.1');
console.log(`fastify example listening on ${url}`);
console.log(`  try      curl -X POST -H 'content-type: application/json' -d '{}' ${url}/login`);
console.log(`  live     ${url}/loopguard/`);
console.log(`  metrics  ${url}/metrics`);

const shutdown = () => app.close();
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
