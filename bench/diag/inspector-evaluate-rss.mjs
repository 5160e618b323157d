/**
 * Reproduction for a soak observation: RSS of a process creeps while the
 * V8 heap stays flat, at a rate that follows stall captures. The watchdog
 * runs one Runtime.evaluate per capture sample on the main thread with the
 * Debugger domain enabled. This repeats that pattern in one process (a
 * same-thread session) and prints RSS and heapUsed after full GCs:
 *
 *   node --expose-gc bench/diag/inspector-evaluate-rss.mjs            # Debugger enabled, as the watchdog
 *   node --expose-gc bench/diag/inspector-evaluate-rss.mjs --no-debugger
 *
 * Measured on Node 20.20 (2026-11-25): with Debugger enabled RSS grew
 * 44.6 → 89.2 MB over 60 000 evaluations (≈ 0.7 KB each), heapUsed flat at
 * 3.5 MB; without it RSS stayed flat (≈ 56 MB) after the first 5 000.
 * Disabling and re-enabling the Debugger domain every 10 000 did not help.
 */
import { Session } from 'node:inspector/promises';

const withDebugger = !process.argv.includes('--no-debugger');
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
const session = new Session();
session.connect();
if (withDebugger) await session.post('Debugger.enable');
globalThis.__probeValue = 0;

const mem = () => {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return `rss ${(m.rss / 2 ** 20).toFixed(1)} MB  heapUsed ${(m.heapUsed / 2 ** 20).toFixed(2)} MB`;
};

console.log(`Debugger ${withDebugger ? 'enabled' : 'not enabled'}; start: ${mem()}`);
for (let round = 1; round <= 6; round++) {
  for (let i = 0; i < 10_000; i++) {
    // The shape of the watchdog's probe: a fresh expression each time, by value, silent.
    await session.post('Runtime.evaluate', { expression: `globalThis.__probeValue + ${i}`, returnByValue: true, silent: true });
  }
  console.log(`after ${round * 10_000} evaluations: ${mem()}`);
}
session.disconnect();
