/**
 * perf record (native and JavaScript frames) of one server variant under a
 * fixed request rate, for comparing where per-request CPU goes:
 *   node bench/diag/perf-rate.mjs <server> <variant> <rate> <seconds> <out.data>
 * rate 0 means saturated (wrk, 50 connections). Then: perf report -i <out.data> --no-children --sort sym
 * The server runs with --perf-basic-prof (perf map of JS functions).
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { startServer } from '../lib/processes.mjs';
import { fixedRate } from '../lib/rate-client.mjs';
import { wrk } from '../lib/wrk.mjs';
import { SERVERS } from '../lib/variants.mjs';

const [server = 'express', variant = 'bare', rate = '2500', seconds = '10', out = '/tmp/perf.data'] = process.argv.slice(2);
spawnSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
const s = await startServer(SERVERS[server].file, variant, { core: 0, nodeArgs: ['--perf-basic-prof'] });
await fixedRate({ port: s.port, rate: Number(rate), seconds: 3 });
const perf = spawn('perf', ['record', '-F', '1999', '-g', '-p', String(s.pid), '-o', out], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 300));
// rate 0: saturated, by wrk (50 connections) on the load core.
const load = Number(rate) === 0 ? { answered: (await wrk(s.url, { core: 1, seconds: Number(seconds), connections: 50 })).requests } : await fixedRate({ port: s.port, rate: Number(rate), seconds: Number(seconds) });
perf.kill('SIGINT');
await once(perf, 'exit');
await s.stop();
console.log(JSON.stringify({ server, variant, answered: load.answered, seconds: Number(seconds), hz: 1999 }));
