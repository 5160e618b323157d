/**
 * Idle cost per thread of one bench server variant: run time (% of a core)
 * and voluntary context switches (wake-ups) per second of every thread, over
 * a window after the startup grace, from /proc/<pid>/task/* (read from
 * outside: wakes nothing). Pinned to cpu0 like the bench.
 *
 *   node bench/diag/idle-threads.mjs loopguard 20
 *   npx -y -p node@26 node bench/diag/idle-threads.mjs loopguard 20
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startServer } from '../lib/processes.mjs';

const variant = process.argv[2] ?? 'loopguard';
const seconds = Number(process.argv[3] ?? 20);
const server = await startServer(fileURLToPath(new URL('../servers/express.mjs', import.meta.url)), variant, { core: 0 });
const snapshot = () =>
  Object.fromEntries(
    readdirSync(`/proc/${server.pid}/task`).map((tid) => {
      const status = readFileSync(`/proc/${server.pid}/task/${tid}/status`, 'utf8');
      return [tid, { name: status.match(/Name:\s+(.*)/)[1], runNs: Number(readFileSync(`/proc/${server.pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]), wakeups: Number(status.match(/^voluntary_ctxt_switches:\s+(\d+)/m)[1]) }];
    }),
  );
await new Promise((r) => setTimeout(r, 4000));
const before = snapshot();
await new Promise((r) => setTimeout(r, seconds * 1000));
const after = snapshot();
await server.stop();
let total = 0;
console.log(`${variant} on Node ${server.node}, ${seconds} s idle:`);
for (const [tid, t] of Object.entries(after)) {
  if (!before[tid]) continue;
  const pct = ((t.runNs - before[tid].runNs) / (seconds * 1e9)) * 100;
  total += pct;
  const wakeups = (t.wakeups - before[tid].wakeups) / seconds;
  if (pct > 0.005 || wakeups > 0.5) console.log(`  ${t.name.padEnd(16)} ${pct.toFixed(3)} % of a core, ${wakeups.toFixed(1)} wake-ups/s`);
}
console.log(`  all threads      ${total.toFixed(3)} % of a core`);
