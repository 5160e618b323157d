/**
 * What one busy-time sample costs: a fixed CPU-bound job on the main thread
 * (busy loop, as under load) with a real guard sampling at a high rate, then
 * with sampling off, interleaved; main-thread CPU from /proc (Linux) and the
 * process's CPU. Per sample = difference ÷ samples taken.
 *
 *   node bench/diag/busy-sample-cost.mjs [hz=200] [rounds=5]
 *   npx -y -p node@26 node bench/diag/busy-sample-cost.mjs
 *
 * The spike before it (scratch, same method) compared the mechanisms at 500–1000 Hz
 * on Node 20.20, medians of 4–5 runs, µs per sample:
 *   Runtime.evaluate, Debugger domain off ....... main ≈ 20,  process ≈ 80–100
 *   Runtime.evaluate, Debugger domain on ........ main ≈ 115, process ≈ 150 (+ one
 *     Debugger.scriptParsed per sample, and ≈ 0.6 KB of native memory kept per sample)
 *   Debugger.pause + evaluate + resume .......... main ≈ 580, process ≈ 770
 *   V8 sampling profiler (Profiler.start) ....... main ≈ 0 at 2 ms, but functions only:
 *     no request context, so no route
 * This script, as shipped (2026-12-01, loaded 2-core VM, 1000 Hz, 7 rounds):
 *   Node 20.20: main below noise (-9 µs), process 96 µs per sample
 *   Node 24.21: main 3 µs, process 66 µs;  Node 26.10: main 46 µs, process 161 µs
 */
import { readFileSync } from 'node:fs';
import { createLoopGuard } from '../../dist/index.js';

const hz = Number(process.argv[2] ?? 200);
const rounds = Number(process.argv[3] ?? 5);
const mainCpuMs = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
const processCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
let sink = 0;
function job() {
  // ~2 s of CPU in 150 callbacks, yielding between them like a busy server.
  return new Promise((resolve) => {
    let left = 150;
    const step = () => {
      for (let i = 0; i < 60_000; i++) sink += JSON.stringify({ i, a: [i, i + 1] }).length;
      if (--left === 0) resolve();
      else setImmediate(step);
    };
    step();
  });
}

async function measure(sampleHz) {
  const guard = createLoopGuard({ busySampleHz: sampleHz, prometheus: false, otel: false, threadPoolProbe: false, startupGraceMs: 0 });
  await new Promise((resolve) => (guard.watchdogReady ? resolve() : guard.once('watchdog:ready', resolve)));
  const m0 = mainCpuMs();
  const p0 = processCpuMs();
  const s0 = guard.snapshot().busy;
  await job();
  const s1 = guard.snapshot().busy;
  const out = { main: mainCpuMs() - m0, process: processCpuMs() - p0, samples: s1 ? s1.busySamples + s1.idleSamples - (s0.busySamples + s0.idleSamples) : 0 };
  guard.close();
  return out;
}

const keepAlive = setInterval(() => {}, 1000);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const on = [];
const off = [];
for (let r = 0; r < rounds; r++) {
  off.push(await measure(0));
  on.push(await measure(hz));
}
const samples = median(on.map((m) => m.samples));
const perSample = (k) => ((median(on.map((m) => m[k])) - median(off.map((m) => m[k]))) / samples) * 1000;
console.log(`${process.version}: ${rounds} rounds, ${hz} Hz asked, median ${samples} samples per job`);
console.log(`  main thread: off ${median(off.map((m) => m.main)).toFixed(1)} ms, on ${median(on.map((m) => m.main)).toFixed(1)} ms -> ${perSample('main').toFixed(0)} µs per sample`);
console.log(`  process:     off ${median(off.map((m) => m.process)).toFixed(1)} ms, on ${median(on.map((m) => m.process)).toFixed(1)} ms -> ${perSample('process').toFixed(0)} µs per sample`);
clearInterval(keepAlive);
console.log(`  at the default 10 Hz under full load: main ${(perSample('main') * 10 / 1e4).toFixed(3)} % of a core, process ${(perSample('process') * 10 / 1e4).toFixed(3)} %`);
