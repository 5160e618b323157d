import http from 'node:http';
import { writeFileSync } from 'node:fs';

/**
 * The child side of every bench server: listen on an ephemeral loopback
 * port, tell the parent over IPC, answer usage queries, exit on 'stop'.
 * IPC stays silent while load runs, so it costs the server nothing then.
 *
 * `info()` (optional) adds variant-specific JSON to each usage answer,
 * e.g. the guard's route count in the soak.
 */
export function serve(listener, { onStop, info } = {}) {
  const server = listener instanceof http.Server ? listener : http.createServer(listener);
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    process.send({ type: 'ready', port: server.address().port, pid: process.pid, node: process.version });
  });
  process.on('message', (msg) => {
    if (msg?.type === 'usage') {
      // Two full collections so heap numbers compare like with like (needs --expose-gc).
      if (msg.gc && typeof globalThis.gc === 'function') {
        globalThis.gc();
        globalThis.gc();
      }
      process.send({ type: 'usage', cpu: process.cpuUsage(), memory: process.memoryUsage(), info: info?.() });
    } else if (msg?.type === 'profile') {
      profile(msg);
    } else if (msg?.type === 'stop') {
      try {
        onStop?.();
      } finally {
        server.closeAllConnections();
        server.close(() => process.exit(0));
        setTimeout(() => process.exit(0), 1000).unref();
      }
    }
  });
  // The parent going away must not leave a server behind.
  process.on('disconnect', () => process.exit(0));
  return server;
}

let session;

/** CPU profile of the main thread between 'start' and 'stop' (bench/profile.mjs), written to msg.file. */
async function profile(msg) {
  const reply = (extra) => process.send({ type: 'profile', ...extra });
  if (msg.action === 'start') {
    // Loaded only when asked, so the measured servers never load the inspector for this.
    const { Session } = await import('node:inspector');
    session = new Session();
    session.connect();
    session.post('Profiler.enable', () =>
      session.post('Profiler.setSamplingInterval', { interval: msg.intervalUs ?? 100 }, () => session.post('Profiler.start', () => reply({ started: true }))),
    );
  } else {
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(msg.file, JSON.stringify(result.profile));
      session.disconnect();
      reply({ error: err?.message });
    });
  }
}

/** A variant that cannot run here (its module is missing): the parent skips it and says why. */
export function unavailable(reason) {
  process.send({ type: 'unavailable', reason }, () => process.exit(0));
}
