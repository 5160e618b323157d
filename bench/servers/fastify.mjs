/**
 * Fastify 5 hello-world, bare or with loopguard's Fastify plugin:
 *   node bench/servers/fastify.mjs <bare|loopguard>
 */
import http from 'node:http';
import Fastify from 'fastify';
import { serve, unavailable } from './harness.mjs';
import { ladderRung } from './ladder.mjs';

const name = process.argv[2] ?? 'bare';

async function loopguardPlugin() {
  const mod = await import('loopguard/fastify');
  // The plugin itself (fastify-plugin marks it with skip-override), or a factory returning it.
  const exported = mod.loopGuard ?? mod.default?.loopGuard ?? mod.default;
  if (typeof exported !== 'function') throw new Error('loopguard/fastify exports no plugin');
  return exported[Symbol.for('skip-override')] ? { plugin: exported } : { plugin: exported() };
}

let setup = null;
/** Ladder rungs (bench/rate.mjs --ladder): node:http's channels, or one empty onRequest hook (Fastify's hook runner). */
const RUNGS = {
  'ch-empty': () => ladderRung({}),
  'ch-record-als': () => ladderRung({ record: true, als: true }),
  /** A guard running with every optional part off and nothing mounted: its background alone (bimodal on Fastify, see results/ladder-node24.md). */
  'guard-bare': async () => {
    const { createLoopGuard } = await import('loopguard');
    createLoopGuard({ captureStacks: false, busySampleHz: 0, threadPoolProbe: false, prometheus: false, otel: false });
    return null;
  },
  'hook-empty': () => ({
    plugin: Object.assign(
      (app, _opts, done) => {
        app.addHook('onRequest', (_request, _reply, next) => next());
        done();
      },
      { [Symbol.for('skip-override')]: true },
    ),
  }),
};
/** loopguard/fastify with some of its parts off: the difference to `loopguard` is theirs. */
const PARTS_OFF = {
  'lg-bare': { captureStacks: false, busySampleHz: 0, threadPoolProbe: false, prometheus: false, otel: false },
  'lg-nobusy': { busySampleHz: 0 },
  'lg-nocapture': { captureStacks: false },
  'lg-noexport': { prometheus: false, otel: false },
};
if (PARTS_OFF[name]) {
  try {
    const { createLoopGuard } = await import('loopguard');
    const { plugin } = await loopguardPlugin();
    const guard = createLoopGuard(PARTS_OFF[name]);
    setup = { plugin: Object.assign((app, _opts, done) => plugin(app, guard, done), { [Symbol.for('skip-override')]: true }) };
  } catch (err) {
    unavailable(`loopguard/fastify: ${err.code ?? ''} ${err.message}`.trim());
  }
} else if (RUNGS[name]) {
  setup = (await RUNGS[name]()) ?? { plugin: null };
} else if (name === 'loopguard') {
  try {
    setup = await loopguardPlugin();
  } catch (err) {
    unavailable(`loopguard/fastify: ${err.code ?? ''} ${err.message}`.trim());
  }
} else if (name !== 'bare') {
  unavailable(`unknown fastify variant '${name}' (known: bare, loopguard, ${Object.keys(RUNGS).join(', ')})`);
}

if (name === 'bare' || setup) {
  // serverFactory keeps the http.Server for the shared harness, which listens once Fastify is ready.
  let server;
  const app = Fastify({
    logger: false,
    serverFactory(handler) {
      server = http.createServer(handler);
      return server;
    },
  });
  if (setup?.plugin) await app.register(setup.plugin);
  app.get('/', async () => 'Hello World!');
  await app.ready();
  serve(server, { onStop: () => void app.close() });
}
