// The bench's verdicts (issue 20): PASS only when the run's noise allows it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analysePairs } from '../lib/stats.mjs';
import { noiseFloor, verdict } from '../lib/verdict.mjs';
import { noiseNote, runStatus, summaryRows } from '../lib/report.mjs';

const run = (rps, extra = {}) => ({ rps, requests: rps * 5, cpuSeconds: 5, wallSeconds: 5, latency: {}, errors: 0, non2xx: 0, ...extra });
/** Six pairs whose variant/base ratios are `ratios`, each round's baseline at 7000 req/s. */
const pairs = (ratios, variant = (r) => run(7000 * r)) => ratios.map((r, round) => ({ round, order: 'base→var', base: run(7000), variant: variant(r, round) }));
const control = (ratios) => ({ variant: { name: 'aa', label: 'A/A', baseline: 'express', control: true }, baseline: { label: 'bare' }, summary: analysePairs(pairs(ratios)) });
const target = { name: 'loopguard', label: 'lg', baseline: 'express', target: 0.97 };
const comparison = (ratios, controlPairs) => ({ variant: target, baseline: { label: 'bare' }, summary: analysePairs(pairs(ratios), { controlPairs }) });
const wordOf = (results, i = 1) => summaryRows(results)[i][7];

const NARROW = [1.005, 0.995, 1.01, 0.99, 1.0, 1.003]; // ±1 %
const WIDE = [1.02, 0.98, 1.03, 0.97, 1.0, 0.99]; // ±3 %

test('a median clearly above target with a narrow noise floor passes; clearly below fails', () => {
  const aa = control(NARROW);
  assert.ok(Math.abs(noiseFloor(aa.summary).noise - 0.01) < 1e-9);
  assert.equal(wordOf([aa, comparison([0.99, 0.985, 0.99, 0.995, 0.99, 0.99], aa.summary.rows)]), 'PASS');
  assert.equal(wordOf([aa, comparison([0.9, 0.91, 0.92, 0.9, 0.9, 0.9], aa.summary.rows)]), 'FAIL');
});

test('a median above target with a wide noise floor is undecided, not PASS', () => {
  // 0.986 − 0.03 = 0.956 < 0.97: this run cannot tell it from a miss. (The old verdict said PASS, or PASS? at best.)
  const aa = control(WIDE);
  const lg = comparison([0.986, 0.986, 0.99, 0.98, 0.986, 0.99], aa.summary.rows);
  assert.ok(lg.summary.ratio >= 0.97);
  assert.equal(wordOf([aa, lg]), 'undecided');
  assert.match(summaryRows([aa, lg])[1][8], /spans 0\.97/);
  // Likewise a median below target that the noise could explain is no FAIL.
  assert.equal(wordOf([aa, comparison([0.96, 0.96, 0.96, 0.96, 0.96, 0.96], aa.summary.rows)]), 'undecided');
  assert.match(noiseNote([aa, lg]), /±3\.0 %/);
});

test('a run without a control is undecided, even far above or below target', () => {
  assert.equal(wordOf([comparison([1.1, 1.1, 1.1, 1.1, 1.1, 1.1])], 0), 'undecided');
  assert.equal(wordOf([comparison([0.5, 0.5, 0.5, 0.5, 0.5, 0.5])], 0), 'undecided');
  assert.match(summaryRows([comparison([0.5, 0.5, 0.5, 0.5, 0.5, 0.5])])[0][8], /no A\/A control/);
  assert.match(noiseNote([comparison([1, 1, 1, 1, 1, 1])]), /no A\/A control/);
  // A control whose ratios are NaN (a side served nothing) cannot vouch either.
  const broken = control(NARROW);
  broken.summary = analysePairs(pairs(NARROW, (r, round) => (round === 0 ? run(0, { requests: 0 }) : run(7000 * r))));
  assert.equal(wordOf([broken, comparison([1.1, 1.1, 1.1, 1.1, 1.1, 1.1], broken.summary.rows)]), 'undecided');
});

test('a pair with errors or non-2xx invalidates the run', () => {
  const aa = control(NARROW);
  // A variant answering 500s fast looks 10 % faster than bare.
  const fast500 = { variant: target, baseline: { label: 'bare' }, summary: analysePairs(pairs([1.1, 1.1, 1.1, 1.1, 1.1, 1.1], (r, round) => run(7000 * r, round === 2 ? { non2xx: 4000 } : {})), { controlPairs: aa.summary.rows }) };
  assert.equal(wordOf([aa, fast500]), 'INVALID');
  assert.equal(runStatus([aa, fast500]).invalid, true);
  const socket = { variant: target, baseline: { label: 'bare' }, summary: analysePairs(pairs([1, 1, 1, 1, 1, 1], (r, round) => run(7000 * r, round === 5 ? { errors: 3 } : {})), { controlPairs: aa.summary.rows }) };
  assert.equal(wordOf([aa, socket]), 'INVALID');
  assert.equal(runStatus([aa, comparison([1, 1, 1, 1, 1, 1], aa.summary.rows)]).invalid, false);
});

test('a variant-only slowdown is kept, not dropped as a state switch', () => {
  const aa = control(NARROW);
  // Round 3: the baseline agrees with the control of its round, only the variant ran at 0.6×.
  const lg = comparison([0.99, 0.99, 0.99, 0.6, 0.99, 0.99], aa.summary.rows);
  assert.equal(lg.summary.rows[3].kept, true, lg.summary.rows[3].notes.join());
  assert.equal(lg.summary.kept, 6);
  assert.equal(lg.summary.ratioMin, 0.6);
  // Dropped only when the baseline itself moved against the control of its round.
  const moved = pairs([0.99, 0.99, 0.99, 0.99, 0.99, 0.99]);
  moved[3].base = run(3500);
  moved[3].variant = run(3500 * 0.6);
  const s = analysePairs(moved, { controlPairs: aa.summary.rows });
  assert.equal(s.rows[3].kept, false);
  assert.match(s.rows[3].notes.join(), /state switch/);
});

test('too few pairs, too few kept, or every pair noisy: undecided', () => {
  const aa = control(NARROW);
  const floor = noiseFloor(aa.summary);
  const three = analysePairs(pairs([1.1, 1.1, 1.1]), { controlPairs: aa.summary.rows });
  assert.deepEqual(verdict({ target: 0.97, summary: three, floor }).word, 'undecided');
  // PASS resting on 1 of 6 pairs: five contended.
  const one = analysePairs(pairs([1.1, 1.1, 1.1, 1.1, 1.1, 1.1], (r, round) => run(7000 * r, round > 0 ? { waitSeconds: 2 } : {})), { controlPairs: aa.summary.rows });
  assert.equal(one.kept, 1);
  assert.equal(verdict({ target: 0.97, summary: one, floor }).word, 'undecided');
  const none = analysePairs(pairs([1.1, 1.1, 1.1, 1.1, 1.1, 1.1], (r) => run(7000 * r, { waitSeconds: 2 })), { controlPairs: aa.summary.rows });
  assert.equal(none.fallback, true);
  assert.equal(verdict({ target: 0.97, summary: none, floor }).word, 'undecided');
  // A control that kept too few pairs gives no floor.
  assert.match(noiseFloor(analysePairs(pairs(NARROW, (r, round) => run(7000 * r, round > 1 ? { waitSeconds: 2 } : {})))).reason, /A\/A control unusable/);
});
