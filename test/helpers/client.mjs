import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/**
 * A forked HTTP client. Requests made while the server's loop is blocked must
 * come from another process, or the client would be blocked too.
 */
export async function forkClient() {
  const child = fork(fileURLToPath(new URL('./client-child.mjs', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map();
  let nextId = 1;
  child.on('message', (msg) => {
    const resolve = pending.get(msg.id);
    if (resolve) {
      pending.delete(msg.id);
      resolve(msg.result);
    }
  });
  const [ready] = await once(child, 'message');
  if (ready.type !== 'ready') throw new Error('client child did not start');
  const call = (msg) =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      child.send({ ...msg, id });
    });
  return {
    /** { status, ms, headers, text } of one request. */
    request: (url, options = {}) => call({ type: 'request', options: { url, ...options } }),
    /** Keeps `concurrency` requests to url in flight until stopVictims(). */
    startVictims: (url, concurrency = 4) => call({ type: 'victims:start', url, concurrency }),
    /** { sent, statuses, latenciesMs } */
    stopVictims: () => call({ type: 'victims:stop' }),
    /** Keeps requests to several targets in flight: [{ name, url, concurrency }], until stopLoad(). */
    startLoad: (targets) => call({ type: 'load:start', targets }),
    /** Restarts the load's statistics from now; resolves with those of the period that ended. */
    markLoad: () => call({ type: 'load:mark' }),
    /** { [name]: { sent, statuses, latenciesMs, retryAfter: { [header value]: count of 503s } } } */
    stopLoad: () => call({ type: 'load:stop' }),
    async close() {
      if (child.exitCode !== null) return;
      child.send({ type: 'exit' });
      await once(child, 'exit');
    },
  };
}
