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
  // LOOPGUARD_BENCH_CONNECTIONS=1: print how many connections the server accepted (keep-alive must hold under load).
  let connections = 0;
  if (process.env.LOOPGUARD_BENCH_CONNECTIONS) server.on('connection', () => connections++);
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
    } else if (msg?.type === 'alloc') {
      allocation(msg);
    } else if (msg?.type === 'heap') {
      heapSampling(msg);
    } else if (msg?.type === 'stop') {
      if (process.env.LOOPGUARD_BENCH_CONNECTIONS) console.error(`connections accepted: ${connections}`);
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
let gcProfiler;
let heapAtStart = 0;

/**
 * Sampled allocations (collected ones included) between 'start' and 'stop',
 * written to msg.file as a .heapprofile (bench/alloc.mjs --where).
 */
async function heapSampling(msg) {
  const reply = (extra) => process.send({ type: 'heap', ...extra });
  if (msg.action === 'start') {
    const { Session } = await import('node:inspector');
    session = new Session();
    session.connect();
    session.post('HeapProfiler.startSampling', { samplingInterval: msg.intervalBytes ?? 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }, (err) => reply({ error: err?.message }));
  } else {
    session.post('HeapProfiler.stopSampling', (err, result) => {
      if (!err) writeFileSync(msg.file, JSON.stringify(result.profile));
      session.disconnect();
      reply({ error: err?.message });
    });
  }
}

/**
 * Bytes the main thread's heap allocated between 'start' and 'stop'
 * (bench/alloc.mjs): the heap's growth plus what every GC in between freed,
 * from v8.GCProfiler (exact heap sizes before and after each collection).
 */
async function allocation(msg) {
  const v8 = await import('node:v8');
  // With --expose-gc both ends are full collections, so what is left counts only what survived.
  const collect = typeof globalThis.gc === 'function' ? globalThis.gc : () => undefined;
  if (msg.action === 'start') {
    collect();
    gcProfiler = new v8.GCProfiler();
    heapAtStart = v8.getHeapStatistics().used_heap_size;
    gcProfiler.start();
    process.send({ type: 'alloc', started: true });
  } else {
    collect();
    const heapAtStop = v8.getHeapStatistics().used_heap_size;
    const { statistics } = gcProfiler.stop();
    let freed = 0;
    for (const gc of statistics) freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
    process.send({ type: 'alloc', bytes: heapAtStop - heapAtStart + freed, gcs: statistics.length });
  }
}

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
