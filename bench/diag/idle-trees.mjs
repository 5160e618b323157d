// Idle CPU of loopguard in several checkouts side by side: which change moved
// the idle cost. Each tree's bench/servers/express.mjs runs `loopguard` on the
// server core; after a few requests and a 3 s settle, the run time of all its
// threads over 20 s is read from /proc (nothing inside is woken to ask).
//
//   node bench/diag/idle-trees.mjs /path/to/tree-a /path/to/tree-b
//
// Each tree must be built (npm run build). Run on a quiet machine.
import { procSched, startServer } from '../lib/processes.mjs';

const SECONDS = 20;
const ROUNDS = 3;
const trees = process.argv.slice(2);
if (trees.length === 0) throw new Error('usage: node bench/diag/idle-trees.mjs <tree> [<tree> …]');
const results = Object.fromEntries(trees.map((t) => [t, []]));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
for (let round = 0; round < ROUNDS; round++) {
  const servers = [];
  for (const tree of trees) servers.push([tree, await startServer(`${tree}/bench/servers/express.mjs`, 'loopguard', { core: 0 })]);
  for (const [, s] of servers) for (let i = 0; i < 5; i++) await (await fetch(s.url)).text();
  await sleep(3000);
  const before = servers.map(([, s]) => procSched(s.pid).runSeconds);
  await sleep(SECONDS * 1000);
  servers.forEach(([tree, s], i) => results[tree].push(((procSched(s.pid).runSeconds - before[i]) / SECONDS) * 100));
  for (const [, s] of servers) await s.stop();
}
for (const tree of trees) {
  const sorted = [...results[tree]].sort((a, b) => a - b);
  console.log(`${tree}: ${results[tree].map((v) => v.toFixed(3)).join(', ')} → median ${sorted[Math.floor(sorted.length / 2)].toFixed(3)} % of a core`);
}
