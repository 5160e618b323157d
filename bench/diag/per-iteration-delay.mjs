/**
 * What `monitorEventLoopDelay({ samplePerIteration: true })` (Node >= 24.19 /
 * 26.5) sees: a 60 ms block in an I/O callback (the poll phase, where
 * request handlers run) and a 40 ms block in a setImmediate callback (the
 * check phase). Measured 2026-12-01 on 24.21 and 26.10: the poll-phase block
 * reads as ~1–8 ms, the check-phase block as ~40–48 ms. The per-iteration
 * samples leave the poll phase out, so loopguard takes its delay
 * percentiles from the heartbeat instead (src/collectors/loop-stats.ts).
 *
 *   npx -y -p node@26 node bench/diag/per-iteration-delay.mjs
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import fs from 'node:fs';

const h = monitorEventLoopDelay({ samplePerIteration: true });
h.enable();
const block = (ms) => {
  const s = performance.now();
  while (performance.now() - s < ms);
};
setTimeout(() => {
  h.reset();
  fs.readFile('/etc/hostname', () => {
    block(60);
    setTimeout(() => {
      console.log(`${process.version} after a 60 ms block in an I/O callback: max ${(h.max / 1e6).toFixed(1)} ms over ${h.count} samples`);
      h.reset();
      setImmediate(() => block(40));
      setTimeout(() => console.log(`${process.version} after a 40 ms block in a setImmediate callback: max ${(h.max / 1e6).toFixed(1)} ms over ${h.count} samples`), 100);
    }, 100);
  });
}, 100);
