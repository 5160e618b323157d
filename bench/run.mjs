/**
 * Overhead bench (issue 2): req/s of bare Express 5 hello-world against
 * loopguard default, loopguard precise and express-prom-bundle (and Fastify
 * bare vs loopguard/fastify once that adapter is built), as ratios to bare,
 * plus the idle CPU cost of a process with loopguard mounted.
 *
 *   npm run bench                      # build, then the full run on this Node (writes bench/results/latest.md on 20, latest-node<N>.md otherwise)
 *   npm run bench -- --node 24         # the same on the latest Node 24 from the registry (npx -y -p node@24)
 *   node bench/run.mjs --quick         # a short smoke run of the harness (writes nothing)
 *   node bench/run.mjs --diag          # adds the diagnostic variants that isolate each cost
 *   node bench/run.mjs --ladder        # the request-path ladder: bare, channels, a record, a context, loopguard's parts
 *   node bench/run.mjs --only als-only,proto-noals --pairs 6
 *   node bench/run.mjs --sequential    # one side after the other, each with the server core alone (quiet machines only)
 *
 * Method: by default both sides of each pair run at once on the pinned
 * server core, each loaded by its own wrk on the other core, so every switch
 * of machine state and every foreign process hits both alike. Every
 * comparison is measured in >= 6 A/B pairs, each side a fresh server process
 * warmed up before it is measured, and every run includes the A/A control
 * (bare vs bare) of each baseline it uses. The reported ratio is the median
 * of the per-pair ratios; the verdict clears the control's noise or says
 * "undecided" (lib/verdict.mjs); a pair with errors invalidates the run.
 * Beside req/s, the server's own CPU time per request (all threads, from
 * /proc) is reported: it is much less sensitive to other load on the machine.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { startServer } from './lib/processes.mjs';
import { wrk } from './lib/wrk.mjs';
import { analyseIdle, analysePairs, median } from './lib/stats.mjs';
import { BASELINES, IDLE_VARIANTS, SERVERS, selectVariants } from './lib/variants.mjs';
import { IDLE_HEADER, PAIR_HEADER, SUMMARY_HEADER, idleRows, markdownTable, noiseNote, pairRows, runStatus, summaryRows, textTable } from './lib/report.mjs';

const { values: opts } = parseArgs({
  options: {
    pairs: { type: 'string', default: '6' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    only: { type: 'string' },
    diag: { type: 'boolean', default: false },
    ladder: { type: 'boolean', default: false },
    'idle-seconds': { type: 'string', default: '20' },
    'idle-rounds': { type: 'string', default: '3' },
    'no-idle': { type: 'boolean', default: false },
    'server-core': { type: 'string', default: '0' },
    'load-core': { type: 'string', default: '1' },
    quick: { type: 'boolean', default: false },
    // The default; still accepted so older command lines keep working.
    concurrent: { type: 'boolean', default: false },
    sequential: { type: 'boolean', default: false },
    slice: { type: 'string' },
    'no-control': { type: 'boolean', default: false },
    node: { type: 'string' },
    out: { type: 'string' },
  },
});

// --node N: the same bench on Node line N from the registry. Server children use
// process.execPath, so they run on that line too.
if (opts.node !== undefined) {
  if (!/^\d+$/.test(opts.node)) throw new TypeError(`--node takes a major version such as 24, got '${opts.node}'`);
  const rest = process.argv.slice(2).filter((a, i, all) => a !== '--node' && all[i - 1] !== '--node' && !a.startsWith('--node='));
  const self = fileURLToPath(import.meta.url);
  console.log(`bench: running on the latest Node ${opts.node} from the registry (npx -y -p node@${opts.node})`);
  const child = spawnSync('npx', ['-y', '-p', `node@${opts.node}`, 'node', self, ...rest], { stdio: 'inherit', env: { ...process.env, LOOPGUARD_BENCH_NODE: opts.node } });
  process.exit(child.status ?? 1);
}
const wantedMajor = process.env.LOOPGUARD_BENCH_NODE;
if (wantedMajor !== undefined && process.versions.node.split('.')[0] !== wantedMajor) {
  console.error(`bench: asked for Node ${wantedMajor}, running on ${process.version}`);
  process.exit(1);
}

const quick = opts.quick;
const config = {
  pairs: quick ? 2 : Number(opts.pairs),
  seconds: quick ? 2 : Number(opts.seconds),
  warmup: quick ? 1 : Number(opts.warmup),
  connections: Number(opts.connections),
  idleSeconds: quick ? 5 : Number(opts['idle-seconds']),
  idleRounds: quick ? 1 : Number(opts['idle-rounds']),
  serverCore: Number(opts['server-core']),
  loadCore: Number(opts['load-core']),
  slice: opts.slice === undefined ? undefined : Number(opts.slice),
};
config.concurrent = !opts.sequential && config.slice === undefined;
const nodeMajor = Number(process.versions.node.split('.')[0]);
const defaultOut = fileURLToPath(new URL(nodeMajor === 20 ? './results/latest.md' : `./results/latest-node${nodeMajor}.md`, import.meta.url));
// A quick run checks the harness; it never replaces the quotable results.
const outFile = opts.out ?? (quick || opts.only || opts.ladder ? undefined : defaultOut);

const log = (...args) => console.log(...args);
/** A run that starts on a machine this busy, or ends busier than the bench alone makes it, measured other work. */
const NOISY_LOAD_AT_START = 1.0;
const NOISY_LOAD_AT_END = 2.5;

/**
 * Time the main thread waited for its core because of someone else. Our own
 * other threads (V8's GC helpers: 10–16 % of a core under this load) run on
 * the same pinned core and make the main thread wait too; that is the
 * variant's own cost, not noise, so it is taken off.
 */
function foreignWait(before, after) {
  const ownOthers = after.runSeconds - after.mainRunSeconds - (before.runSeconds - before.mainRunSeconds);
  return Math.max(0, after.waitSeconds - before.waitSeconds - ownOthers);
}

/** One measured side of a pair: fresh server, warm-up, measured wrk run, CPU time from /proc. */
async function measure(serverName, arg) {
  const server = await startServer(SERVERS[serverName].file, arg, { core: config.serverCore });
  if (server.unavailable) return { unavailable: server.unavailable };
  try {
    await wrk(server.url, { core: config.loadCore, seconds: config.warmup, connections: config.connections });
    const before = server.sched();
    const t0 = performance.now();
    const result = await wrk(server.url, { core: config.loadCore, seconds: config.seconds, connections: config.connections });
    const wallSeconds = (performance.now() - t0) / 1000;
    const after = server.sched();
    const { raw, ...rest } = result;
    return { ...rest, cpuSeconds: after.runSeconds - before.runSeconds, waitSeconds: foreignWait(before, after), wallSeconds, node: server.node };
  } finally {
    await server.stop();
  }
}

/**
 * --concurrent: both sides of a pair at once, both servers on the same core
 * (the scheduler gives each half of it), one wrk each on the load core. Both
 * sides then always see the same machine state, so switches and foreign load
 * cancel out; the req/s ratio is the CPU-efficiency ratio. The run-queue wait
 * says nothing here (each server waits for the other by design).
 */
async function measureConcurrent(sides) {
  const servers = [];
  try {
    for (const [name, arg] of sides) servers.push(await startServer(SERVERS[name].file, arg, { core: config.serverCore }));
    const missing = servers.find((s) => s.unavailable);
    if (missing) return sides.map(() => ({ unavailable: missing.unavailable }));
    const load = (seconds) => Promise.all(servers.map((s) => wrk(s.url, { core: config.loadCore, seconds, connections: config.connections })));
    await load(config.warmup);
    const before = servers.map((s) => s.sched());
    const t0 = performance.now();
    const results = await load(config.seconds);
    const wallSeconds = (performance.now() - t0) / 1000;
    return results.map(({ raw, ...rest }, i) => ({ ...rest, cpuSeconds: servers[i].sched().runSeconds - before[i].runSeconds, wallSeconds, node: servers[i].node }));
  } finally {
    await Promise.all(servers.map((s) => s.stop?.()));
  }
}

/**
 * --slice S: both servers stay up; the load alternates between them in S-second
 * slices (A B B A A B …) for the measured time of each side, so each still has
 * its core alone while it is measured, and a switch of the machine's state
 * lands on both sides alike. The pair's numbers are the sums over its slices.
 */
async function measureInterleaved(sides) {
  const servers = [];
  try {
    for (const [name, arg] of sides) servers.push(await startServer(SERVERS[name].file, arg, { core: config.serverCore }));
    const missing = servers.find((s) => s.unavailable);
    if (missing) return sides.map(() => ({ unavailable: missing.unavailable }));
    for (const s of servers) await wrk(s.url, { core: config.loadCore, seconds: config.warmup, connections: config.connections });
    const totals = servers.map(() => ({ requests: 0, cpuSeconds: 0, waitSeconds: 0, wallSeconds: 0, errors: 0, non2xx: 0, p99: [], p50: [] }));
    const slices = Math.max(1, Math.round(config.seconds / config.slice));
    for (let i = 0; i < slices; i++) {
      const order = i % 2 === 0 ? [0, 1] : [1, 0];
      for (const k of order) {
        const s = servers[k];
        const before = s.sched();
        const t0 = performance.now();
        const r = await wrk(s.url, { core: config.loadCore, seconds: config.slice, connections: config.connections });
        const t = totals[k];
        t.wallSeconds += (performance.now() - t0) / 1000;
        const after = s.sched();
        t.requests += r.requests;
        t.cpuSeconds += after.runSeconds - before.runSeconds;
        t.waitSeconds += foreignWait(before, after);
        t.errors += r.errors;
        t.non2xx += r.non2xx;
        t.p99.push(r.latency.p99);
        t.p50.push(r.latency.p50);
        // wrk's own rate excludes its start-up; the sum of requests over the sum of its durations is the side's rate.
        t.rpsSeconds = (t.rpsSeconds ?? 0) + r.requests / r.rps;
      }
    }
    return totals.map((t, k) => ({
      rps: t.requests / t.rpsSeconds,
      requests: t.requests,
      latency: { p50: median(t.p50), p99: median(t.p99) },
      errors: t.errors,
      non2xx: t.non2xx,
      cpuSeconds: t.cpuSeconds,
      waitSeconds: t.waitSeconds,
      wallSeconds: t.wallSeconds,
      node: servers[k].node,
    }));
  } finally {
    await Promise.all(servers.map((s) => s.stop?.()));
  }
}

async function runPairs(variants) {
  const pairsByVariant = new Map(variants.map((v) => [v.name, []]));
  const unavailable = new Map();
  for (let round = 0; round < config.pairs; round++) {
    // Rotate the comparison order too, so no variant always runs at the same point of a round.
    const order = variants.map((_, i) => (i + round) % variants.length);
    for (const index of order) {
      const v = variants[index];
      if (unavailable.has(v.name)) continue;
      const baseline = BASELINES[v.baseline];
      // Each comparison alternates which side goes first from one round to the next.
      const baseFirst = (round + index) % 2 === 0;
      const sides = baseFirst ? [[baseline.server, baseline.arg], [baseline.server, v.arg]] : [[baseline.server, v.arg], [baseline.server, baseline.arg]];
      const measured = [];
      if (config.concurrent) measured.push(...(await measureConcurrent(sides)));
      else if (config.slice) measured.push(...(await measureInterleaved(sides)));
      else for (const [server, arg] of sides) measured.push(await measure(server, arg));
      const [base, variant] = baseFirst ? measured : [measured[1], measured[0]];
      if (variant.unavailable || base.unavailable) {
        unavailable.set(v.name, variant.unavailable ?? base.unavailable);
        log(`  skip ${v.name}: ${unavailable.get(v.name)}`);
        continue;
      }
      pairsByVariant.get(v.name).push({ round, order: baseFirst ? 'base→var' : 'var→base', base, variant });
      log(`  round ${round + 1}/${config.pairs}  ${v.name.padEnd(18)} base ${Math.round(base.rps)}  variant ${Math.round(variant.rps)}  ratio ${(variant.rps / base.rps).toFixed(3)}`);
    }
  }
  return { pairsByVariant, unavailable };
}

/** Idle CPU: the idle variants run side by side (idle processes do not compete), measured from /proc. */
async function runIdle() {
  const rounds = [];
  for (let round = 0; round < config.idleRounds; round++) {
    const variants = IDLE_VARIANTS.map((_, i) => IDLE_VARIANTS[(i + round) % IDLE_VARIANTS.length]);
    const servers = [];
    for (const v of variants) servers.push({ v, s: await startServer(SERVERS[v.server].file, v.arg, { core: config.serverCore }) });
    try {
      // Past loopguard's startup grace and the first ELU/percentile windows.
      await sleep(3000);
      const start = servers.map(({ s }) => s.sched().runSeconds);
      const t0 = performance.now();
      await sleep(config.idleSeconds * 1000);
      const wall = (performance.now() - t0) / 1000;
      const byVariant = {};
      servers.forEach(({ v, s }, i) => (byVariant[v.arg] = ((s.sched().runSeconds - start[i]) / wall) * 100));
      rounds.push({ round, byVariant });
      log(`  idle round ${round + 1}/${config.idleRounds}: ${IDLE_VARIANTS.map((v) => `${v.arg} ${byVariant[v.arg].toFixed(2)} %`).join(', ')}`);
    } finally {
      await Promise.all(servers.map(({ s }) => s.stop()));
    }
  }
  return { rounds, summary: analyseIdle(rounds, IDLE_VARIANTS[0].arg) };
}

function versions() {
  const require = createRequire(import.meta.url);
  const v = (name) => {
    try {
      return require(`${name}/package.json`).version;
    } catch {
      return 'n/a';
    }
  };
  return { node: process.version, express: v('express'), fastify: v('fastify'), 'express-prom-bundle': v('express-prom-bundle'), 'prom-client': v('prom-client') };
}

async function main() {
  const { runnable, skipped } = selectVariants({ only: opts.only?.split(',').map((s) => s.trim()), diag: opts.diag, ladder: opts.ladder, noControl: opts['no-control'] });
  const ver = versions();
  const setup = `Node ${ver.node} · express ${ver.express} · fastify ${ver.fastify} · express-prom-bundle ${ver['express-prom-bundle']} · ${os.cpus().length} cores (${os.cpus()[0]?.model?.trim()}) · server on cpu${config.serverCore}, wrk (1 thread, ${config.connections} connections) on cpu${config.loadCore} · ${config.warmup} s warm-up + ${config.seconds} s measured per side · ${config.pairs} A/B pairs${config.concurrent ? ' (concurrent: both sides at once, sharing the server core)' : config.slice ? ` (interleaved ${config.slice} s slices)` : ' (sequential)'}`;
  log(`loopguard bench — ${setup}`);
  for (const s of skipped) log(`  skip ${s.name}: ${s.reason}`);
  const startedAt = new Date();
  const loadBefore = os.loadavg()[0];

  const { pairsByVariant, unavailable } = await runPairs(runnable);
  const idle = opts['no-idle'] ? null : await runIdle();

  // The state reference: the median of every baseline run of the same server across the whole bench.
  const baselineMedians = {};
  for (const name of Object.keys(BASELINES)) {
    baselineMedians[name] = median(runnable.filter((v) => v.baseline === name).flatMap((v) => pairsByVariant.get(v.name).map((p) => p.base.rps)));
  }
  // Sequential and sliced pairs: each comparison's state reference is the A/A control of its baseline,
  // measured in the same rounds. Concurrent pairs share every instant of machine state, so none is
  // dropped for it (a round's control ran at another moment and would only discard good pairs).
  const controlPairs = (v) => {
    if (config.concurrent) return undefined;
    const control = runnable.find((c) => c.control && c.baseline === v.baseline);
    return control && control !== v ? pairsByVariant.get(control.name) : undefined;
  };
  const results = runnable
    .filter((v) => pairsByVariant.get(v.name).length > 0)
    .map((v) => ({ variant: v, baseline: BASELINES[v.baseline], summary: analysePairs(pairsByVariant.get(v.name), { baselineMedian: baselineMedians[v.baseline], controlPairs: controlPairs(v) }) }));
  const status = runStatus(results);
  const allSkipped = [...skipped, ...[...unavailable].map(([name, reason]) => ({ name, reason }))];

  // The bench's own servers and wrk keep about 1.5 of the 2 cores busy, so the end
  // reading carries them: above 2.5 there was at least a core of someone else's work.
  const loadAfter = os.loadavg()[0];
  const noisy = loadBefore > NOISY_LOAD_AT_START || loadAfter > NOISY_LOAD_AT_END;
  const loadNote = `Machine load average (1 min) ${loadBefore.toFixed(2)} at the start, ${loadAfter.toFixed(2)} at the end (2 cores; this bench itself keeps ~1.5 busy)${noisy ? ` — NOISY (start above ${NOISY_LOAD_AT_START} or end above ${NOISY_LOAD_AT_END}): these figures settle nothing` : ''}.`;
  log('');
  log(loadNote);
  log(textTable(SUMMARY_HEADER, summaryRows(results)));
  log(noiseNote(results));
  if (status.invalid) log(status.line);
  for (const r of results) {
    log(`\n${r.variant.label} vs ${r.baseline.label} — per pair`);
    log(textTable(PAIR_HEADER, pairRows(r.summary)));
  }
  if (idle) {
    log(`\nIdle CPU (${config.idleSeconds} s windows, processes side by side, ${config.idleRounds} rounds)`);
    log(textTable(IDLE_HEADER, idleRows(idle, IDLE_VARIANTS)));
  }
  for (const s of allSkipped) log(`skipped ${s.name}: ${s.reason}`);

  if (outFile) {
    const md = [
      '# loopguard overhead bench — last run',
      '',
      `Run ${startedAt.toISOString()} with \`${['node bench/run.mjs', ...process.argv.slice(2)].join(' ')}\`.`,
      '',
      setup + '.',
      '',
      loadNote,
      '',
      'Ratio = variant req/s ÷ baseline req/s, median over the kept A/B pairs. Δ CPU µs/req = server CPU time (all threads, /proc) per request, variant minus baseline, median over pairs; CPU ratio = baseline ÷ variant CPU per request (the throughput ratio if the server were purely CPU-bound, less sensitive to other load on the machine). PASS needs ratio − noise ≥ target, FAIL ratio + noise < target (noise: the A/A control\'s widest pair), anything else is undecided; a pair with errors or non-2xx answers makes the run INVALID; see bench/README.md.',
      '',
      ...(status.invalid ? [`**${status.line}**`, ''] : []),
      markdownTable(SUMMARY_HEADER, summaryRows(results)),
      '',
      ...noiseNote(results).split('\n').flatMap((l) => [l, '']),
      ...results.flatMap((r) => [`## ${r.variant.label} vs ${r.baseline.label}`, '', markdownTable(PAIR_HEADER, pairRows(r.summary)), '']),
      ...(idle
        ? [`## Idle CPU`, '', `${config.idleSeconds} s windows after a 3 s settle, the processes side by side on cpu${config.serverCore}, ${config.idleRounds} rounds; run time of all threads from /proc/<pid>/task/*/schedstat. Budget: loopguard < 1 % of a core more than bare.`, '', markdownTable(IDLE_HEADER, idleRows(idle, IDLE_VARIANTS)), '']
        : []),
      ...(allSkipped.length ? ['## Skipped', '', ...allSkipped.map((s) => `- ${s.name}: ${s.reason}`), ''] : []),
    ].join('\n');
    mkdirSync(dirname(outFile), { recursive: true });
    writeFileSync(outFile, md);
    log(`\nwrote ${outFile}`);
  }
  if (status.invalid) process.exitCode = 1;
}

await main();
