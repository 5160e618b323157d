// Self-checks of the bench's pure parts: node --test bench/test/
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyseIdle, analysePairs, median } from '../lib/stats.mjs';
import { parseWrk } from '../lib/wrk.mjs';

const run = (rps, { wait = 0, cpu = 5 } = {}) => ({ rps, requests: rps * 5, cpuSeconds: cpu, waitSeconds: wait, wallSeconds: 5, latency: {}, errors: 0, non2xx: 0 });

test('median of odd, even and non-finite input', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([NaN, 5]), 5);
  assert.ok(Number.isNaN(median([])));
});

test('a pair that straddled a fast/slow switch is dropped, a pair wholly in the slow state is kept', () => {
  const s = analysePairs(
    [
      { round: 0, base: run(7500), variant: run(7300) },
      { round: 1, base: run(7400), variant: run(3600) }, // switched between the sides
      { round: 2, base: run(3500), variant: run(3400) }, // slow, but both sides
      { round: 3, base: run(7600), variant: run(7350) },
    ],
    7500,
  );
  assert.deepEqual(s.rows.map((r) => r.kept), [true, false, true, true]);
  assert.match(s.rows[1].notes.join(), /state switch/);
  assert.match(s.rows[2].notes.join(), /slow state/);
  assert.equal(s.kept, 3);
  assert.ok(s.ratio > 0.96 && s.ratio < 0.98, String(s.ratio));
});

test('a side whose core was shared is dropped; all dropped falls back to every pair, flagged', () => {
  const one = analysePairs([{ round: 0, base: run(7500), variant: run(7300, { wait: 1 }) }, { round: 1, base: run(7500), variant: run(7400) }], 7500);
  assert.deepEqual(one.rows.map((r) => r.kept), [false, true]);
  const all = analysePairs([{ round: 0, base: run(7500, { wait: 2 }), variant: run(7300) }], 7500);
  assert.equal(all.fallback, true);
  assert.ok(Number.isFinite(all.ratio));
});

test('CPU per request: delta and ratio against the baseline', () => {
  const s = analysePairs([{ round: 0, base: run(5000, { cpu: 5 }), variant: run(5000, { cpu: 5.1 }) }], 5000);
  assert.ok(Math.abs(s.cpuDelta - 4) < 1e-9, String(s.cpuDelta)); // 200 µs → 204 µs per request
  assert.ok(Math.abs(s.cpuRatio - 5 / 5.1) < 1e-9);
});

test('idle: extra percent of a core over the baseline, median over rounds', () => {
  const idle = analyseIdle([{ byVariant: { bare: 0.2, lg: 1.0 } }, { byVariant: { bare: 0.3, lg: 0.9 } }, { byVariant: { bare: 0.2, lg: 2.0 } }], 'bare');
  assert.ok(Math.abs(idle.lg.extra - 0.8) < 1e-9);
  assert.equal(idle.bare.extra, 0);
});

test('parses a wrk report', () => {
  const out = `Running 5s test @ http://127.0.0.1:1/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.60ms    2.01ms  42.30ms   91.17%
    Req/Sec     7.59k   412.31     8.05k    88.00%
  Latency Distribution
     50%    6.28ms
     75%    6.70ms
     90%    7.39ms
     99%   15.36ms
  37787 requests in 5.00s, 8.83MB read
  Socket errors: connect 0, read 0, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:   7554.61
Transfer/sec:      1.77MB
`;
  const r = parseWrk(out);
  assert.equal(r.rps, 7554.61);
  assert.equal(r.requests, 37787);
  assert.equal(r.latency.p99, 15.36);
  assert.equal(r.latency.p50, 6.28);
  assert.equal(r.errors, 2);
  assert.equal(r.non2xx, 7);
  assert.throws(() => parseWrk('garbage'), /cannot parse/);
});

test('the A/A control sets the noise floor, and a wide floor marks verdicts as unsure', async () => {
  const { noiseFloor, summaryRows, noiseNote } = await import('../lib/report.mjs');
  const pair = (b, v) => ({ round: 0, order: 'base→var', base: run(b), variant: run(v) });
  const aa = { variant: { name: 'aa', label: 'A/A' }, baseline: { label: 'bare' }, summary: analysePairs([pair(7000, 7070), pair(7000, 6860)], 7000) };
  const lg = { variant: { name: 'loopguard', label: 'lg', target: 0.97 }, baseline: { label: 'bare' }, summary: analysePairs([pair(7000, 6900)], 7000) };
  assert.ok(Math.abs(noiseFloor([aa, lg]) - 0.02) < 1e-9);
  assert.equal(summaryRows([aa, lg])[1][7], 'PASS');
  const wide = { ...aa, summary: analysePairs([pair(7000, 7700)], 7000) };
  assert.equal(summaryRows([wide, lg])[1][7], 'PASS?');
  assert.match(noiseNote([wide, lg]), /cannot tell/);
});

test('a pair where a side served nothing is dropped, not averaged as NaN', () => {
  const zero = { ...run(0), requests: 0, errors: 50 };
  const s = analysePairs([{ round: 0, base: zero, variant: run(7000) }, { round: 1, base: run(7000), variant: run(6930) }], 7000);
  assert.deepEqual(s.rows.map((r) => r.kept), [false, true]);
  assert.match(s.rows[0].notes.join(), /no requests/);
  assert.ok(Math.abs(s.ratio - 0.99) < 1e-9);
});
