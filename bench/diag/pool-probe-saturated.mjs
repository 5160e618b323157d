// CPU of the watchdog worker's thread while libuv's pool is saturated (16
// long pbkdf2 jobs on 4 threads: the probe stays queued for seconds). A worker
// that spun on its event loop while a probe is queued would show here
// (measured 4.4-5.0 % of a core on a 2-core VM at load 22, where a spinning
// thread gets its share of the CPU; 0.3-0.4 % once it waits on a timer).
import fs from 'node:fs';
import crypto from 'node:crypto';
// node bench/diag/pool-probe-saturated.mjs [path to a built loopguard, default the package]
const { createLoopGuard } = await import(process.argv[2] ?? 'loopguard');
// The watchdog is unref'd: keep the process alive while we wait for it.
setInterval(() => {}, 1000);
const tasks = () => new Set(fs.readdirSync('/proc/self/task'));
const cpu = (tid) => Number(fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
await new Promise((r) => crypto.pbkdf2('a', 'b', 1, 8, 'sha256', r)); // the pool's threads exist from here
const before = tasks();
const guard = createLoopGuard({ prometheus: false, otel: false, threadPoolProbe: { intervalMs: 1000 } });
await new Promise((r) => guard.once('watchdog:ready', r));
const mine = [...tasks()].filter((t) => !before.has(t));
let running = true;
const one = () => running && crypto.pbkdf2('pw', 'salt', 400_000, 32, 'sha256', one);
for (let i = 0; i < 16; i++) one();
await new Promise((r) => setTimeout(r, 1500));
const start = mine.map(cpu);
const t0 = performance.now();
await new Promise((r) => setTimeout(r, 5000));
const wall = performance.now() - t0;
const used = mine.map((t, i) => cpu(t) - start[i]).reduce((a, b) => a + b, 0);
console.log(`worker threads ${mine.length}: ${((used / wall) * 100).toFixed(1)} % of a core while the pool is saturated; probe p99 ${guard.snapshot().threadPool.delay.p99Ms} ms`);
running = false;
guard.close();
process.exit(0);
