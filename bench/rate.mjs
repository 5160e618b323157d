/**
 * CPU per request at a fixed request rate: each variant and its baseline run
 * side by side on the server core, both driven at the same rate by one raw
 * client on the load core, and each process's CPU time (every thread, from
 * /proc/<pid>/task/<tid>/schedstat, ns precision) is divided by the requests
 * it answered. Saturated req/s ratios swing ±3 % between runs here; CPU per
 * request at an equal, unsaturated load resolves a fraction of a µs.
 *
 *   node bench/rate.mjs --server express --variants loopguard,nobusy --rate 3000
 *   node bench/rate.mjs --ladder                 # the request-path ladder (see LADDERS)
 *   node bench/rate.mjs --node 24 --ladder       # on the latest Node 24 from the registry
 *
 * Every round starts fresh processes for each comparison, alternates which
 * side starts first, and includes the A/A control (the baseline against
 * itself). Figures are medians over rounds of (variant − baseline) µs per
 * request, split into the main thread and the others (GC helpers, the
 * watchdog worker, libuv). The load average is printed at the start and the
 * end; a run that starts above 1.0, or ends above 2.0 (the bench itself keeps
 * about one core busy), is marked noisy and settles nothing.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import os from 'node:os';
import { startServer } from './lib/processes.mjs';
import { fixedRate } from './lib/rate-client.mjs';
import { median } from './lib/stats.mjs';
import { SERVERS } from './lib/variants.mjs';

const { values: opts } = parseArgs({
  options: {
    server: { type: 'string', default: 'express' },
    variants: { type: 'string' },
    ladder: { type: 'boolean', default: false },
    rate: { type: 'string' },
    rounds: { type: 'string', default: '6' },
    seconds: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
    'server-core': { type: 'string', default: '0' },
    'load-core': { type: 'string', default: '1' },
    node: { type: 'string' },
    out: { type: 'string' },
  },
});

if (opts.node !== undefined) {
  const rest = process.argv.slice(2).filter((a, i, all) => a !== '--node' && all[i - 1] !== '--node');
  const child = spawnSync('npx', ['-y', '-p', `node@${opts.node}`, 'node', fileURLToPath(import.meta.url), ...rest], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}

/**
 * Each rung is bare plus one more thing than the rung before (bench/servers/*.mjs
 * variants), so each step's cost is the difference between two rungs.
 */
const LADDERS = {
  express: ['ch-empty', 'ch-enter', 'ch-record', 'ch-record-als', 'lg-bare', 'nobusy', 'loopguard'],
  fastify: ['ch-empty', 'ch-record-als', 'loopguard'],
};
/** Rates at about 35 % of one core each on these machines: the pair shares the server core, unsaturated. */
const DEFAULT_RATE = { express: 2500, fastify: 5000 };

const serverName = opts.server;
if (!SERVERS[serverName]) throw new TypeError(`--server: one of ${Object.keys(SERVERS).join(', ')}, got '${serverName}'`);
const variants = opts.ladder ? LADDERS[serverName] : (opts.variants ?? 'loopguard').split(',');
const rate = Number(opts.rate ?? DEFAULT_RATE[serverName]);
const rounds = Number(opts.rounds);
const seconds = Number(opts.seconds);
const warmup = Number(opts.warmup);
const connections = Number(opts.connections);

// The client runs here: pin it to the load core.
spawnSync('taskset', ['-cp', opts['load-core'], String(process.pid)], { stdio: 'ignore' });

/** Run time (s) of each thread of `pid` so far, by thread id, with its name. */
function threads(pid) {
  const out = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const run = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.set(tid, { run, name });
    } catch {
      // Gone between the listing and the read.
    }
  }
  return out;
}

/** µs per request over the window: main thread, other threads, total, and the other threads by name. */
function perRequest(pid, before, after, answered) {
  let main = 0;
  let others = 0;
  const byName = {};
  for (const [tid, t] of after) {
    const spent = t.run - (before.get(tid)?.run ?? 0);
    if (tid === String(pid)) main += spent;
    else {
      others += spent;
      byName[t.name] = (byName[t.name] ?? 0) + (spent * 1e6) / answered;
    }
  }
  return { main: (main * 1e6) / answered, others: (others * 1e6) / answered, total: ((main + others) * 1e6) / answered, byName };
}

async function measurePair(baseArg, variantArg, baseFirst) {
  const file = SERVERS[serverName].file;
  const order = baseFirst ? [baseArg, variantArg] : [variantArg, baseArg];
  const started = [];
  for (const arg of order) started.push(await startServer(file, arg, { core: Number(opts['server-core']) }));
  const [base, variant] = baseFirst ? started : [started[1], started[0]];
  try {
    if (base.unavailable || variant.unavailable) return { unavailable: base.unavailable ?? variant.unavailable };
    await Promise.all([base, variant].map((s) => fixedRate({ port: s.port, rate, seconds: warmup, connections })));
    const before = [base, variant].map((s) => threads(s.pid));
    const loads = await Promise.all([base, variant].map((s) => fixedRate({ port: s.port, rate, seconds, connections })));
    const after = [base, variant].map((s) => threads(s.pid));
    const [b, v] = [base, variant].map((s, i) => perRequest(s.pid, before[i], after[i], loads[i].answered));
    const bad = loads.some((l) => l.errors > 0 || l.non2xx > 0 || l.answered < l.sent * 0.99);
    return { base: b, variant: v, loads, bad, node: base.node };
  } finally {
    await Promise.all(started.map((s) => s.stop?.()));
  }
}

const load = () => os.loadavg()[0];
const loadAtStart = load();
const header = `rate bench — ${serverName}, ${rate} req/s each side, ${connections} connections, ${warmup} s warm-up + ${seconds} s measured, ${rounds} rounds; load average at start ${loadAtStart.toFixed(2)}`;
console.log(header);
const comparisons = ['bare', ...variants];
const results = Object.fromEntries(comparisons.map((v) => [v, []]));
let nodeVersion = '';
for (let round = 0; round < rounds; round++) {
  // Rotate the order of comparisons each round, and which side starts first.
  const shift = round % comparisons.length;
  for (const v of [...comparisons.slice(shift), ...comparisons.slice(0, shift)]) {
    const r = await measurePair('bare', v, round % 2 === 0);
    if (r.unavailable) {
      console.log(`  ${v}: unavailable (${r.unavailable})`);
      continue;
    }
    nodeVersion = r.node;
    const d = { total: r.variant.total - r.base.total, main: r.variant.main - r.base.main, others: r.variant.others - r.base.others, baseTotal: r.base.total, bad: r.bad, byName: r.variant.byName };
    results[v].push(d);
    console.log(`  round ${round + 1}/${rounds}  ${v.padEnd(16)} bare ${r.base.total.toFixed(2)} µs/req  variant ${r.variant.total.toFixed(2)}  Δ ${d.total.toFixed(2)} (main ${d.main.toFixed(2)}, others ${d.others.toFixed(2)})${r.bad ? '  BAD (errors or shortfall)' : ''}`);
  }
}
const loadAtEnd = load();
// The two servers at a fixed rate and the client keep about one core busy: above 2 at the end, someone else ran.
const noisy = loadAtStart > 1 || loadAtEnd > 2;
const rows = comparisons.map((v) => {
  const kept = results[v].filter((d) => !d.bad);
  const m = (k) => median(kept.map((d) => d[k]));
  const others = {};
  for (const d of kept) for (const [name, us] of Object.entries(d.byName)) (others[name] ??= []).push(us);
  const otherThreads = Object.entries(others)
    .map(([name, list]) => `${name} ${median(list).toFixed(2)}`)
    .join(', ');
  const spread = kept.length ? Math.max(...kept.map((d) => d.total)) - Math.min(...kept.map((d) => d.total)) : NaN;
  return { v, n: kept.length, bare: m('baseTotal'), total: m('total'), main: m('main'), others: m('others'), spread, otherThreads };
});
const lines = [
  header,
  `Node ${nodeVersion}; load average at end ${loadAtEnd.toFixed(2)}${noisy ? ' — NOISY: these figures settle nothing' : ''}`,
  '',
  '| variant (each vs bare, side by side) | pairs | bare µs/req | Δ µs/req (all threads) | Δ main thread | Δ other threads | spread of Δ | other threads of the variant (µs/req) |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.v} | ${r.n} | ${r.bare.toFixed(2)} | ${r.total.toFixed(2)} | ${r.main.toFixed(2)} | ${r.others.toFixed(2)} | ${r.spread.toFixed(2)} | ${r.otherThreads} |`),
];
console.log(`\n${lines.join('\n')}`);
if (opts.out) writeFileSync(opts.out, `${lines.join('\n')}\n`);
