import http from 'node:http';

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

/** A variant that cannot run here (its module is missing): the parent skips it and says why. */
export function unavailable(reason) {
  process.send({ type: 'unavailable', reason }, () => process.exit(0));
}
