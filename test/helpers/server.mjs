import { once } from 'node:events';
import http from 'node:http';

/** Listens on an ephemeral port on loopback: an http.Server or a (req, res) listener such as an Express app. */
export async function listen(target) {
  const server = target instanceof http.Server ? target : http.createServer(target);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Resolves with the first event for which predicate holds, or rejects after timeoutMs (a failure guard, not a sleep). */
export function waitFor(emitter, event, predicate = () => true, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, onEvent);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for '${event}'`));
    }, timeoutMs);
    function onEvent(value) {
      if (!predicate(value)) return;
      clearTimeout(timer);
      emitter.off(event, onEvent);
      resolve(value);
    }
    emitter.on(event, onEvent);
  });
}
