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

test('a baseline off the A/A control of its round is dropped as a state switch; a round wholly in the slow state is kept', () => {
  const control = [
    { round: 0, base: run(7500), variant: run(7450) },
    { round: 1, base: run(7400), variant: run(7500) },
    { round: 2, base: run(3500), variant: run(3550) }, // the whole round in the slow state
    { round: 3, base: run(7600), variant: run(7550) },
  ];
  const s = analysePairs(
    [
      { round: 0, base: run(7500), variant: run(7300) },
      { round: 1, base: run(3700), variant: run(3600) }, // the baseline ran slow while the control of its round ran fast
      { round: 2, base: run(3500), variant: run(3400) },
      { round: 3, base: run(7600), variant: run(7350) },
    ],
    { baselineMedian: 7500, controlPairs: control },
  );
  assert.deepEqual(s.rows.map((r) => r.kept), [true, false, true, true]);
  assert.match(s.rows[1].notes.join(), /state switch/);
  assert.match(s.rows[2].notes.join(), /slow state/);
  assert.equal(s.kept, 3);
  assert.ok(s.ratio > 0.96 && s.ratio < 0.98, String(s.ratio));
});

test('CPU per request: delta and ratio against the baseline', () => {
  const s = analysePairs([{ round: 0, base: run(5000, { cpu: 5 }), variant: run(5000, { cpu: 5.1 }) }], { baselineMedian: 5000 });
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

test('a pair where a side served nothing is dropped and invalidates the comparison, not averaged as NaN', () => {
  const zero = { ...run(0), requests: 0, errors: 50 };
  const s = analysePairs([{ round: 0, base: zero, variant: run(7000) }, { round: 1, base: run(7000), variant: run(6930) }], { baselineMedian: 7000 });
  assert.deepEqual(s.rows.map((r) => r.kept), [false, true]);
  assert.match(s.rows[0].notes.join(), /served nothing/);
  assert.equal(s.invalid, true);
  assert.ok(Math.abs(s.ratio - 0.99) < 1e-9);
});
