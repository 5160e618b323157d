/**
 * Fastify 5 hello-world, bare or with loopguard's Fastify plugin:
 *   node bench/servers/fastify.mjs <bare|loopguard>
 */
import http from 'node:http';
import Fastify from 'fastify';
import { serve, unavailable } from './harness.mjs';

const name = process.argv[2] ?? 'bare';

async function loopguardPlugin() {
  const mod = await import('loopguard/fastify');
  // The plugin itself (fastify-plugin marks it with skip-override), or a factory returning it.
  const exported = mod.loopGuard ?? mod.default?.loopGuard ?? mod.default;
  if (typeof exported !== 'function') throw new Error('loopguard/fastify exports no plugin');
  return exported[Symbol.for('skip-override')] ? { plugin: exported } : { plugin: exported() };
}

let setup = null;
if (name === 'loopguard') {
  try {
    setup = await loopguardPlugin();
  } catch (err) {
    unavailable(`loopguard/fastify: ${err.code ?? ''} ${err.message}`.trim());
  }
} else if (name !== 'bare') {
  unavailable(`unknown fastify variant '${name}' (known: bare, loopguard)`);
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
  if (setup) await app.register(setup.plugin);
  app.get('/', async () => 'Hello World!');
  await app.ready();
  serve(server, { onStop: () => void app.close() });
}
