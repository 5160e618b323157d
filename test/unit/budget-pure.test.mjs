// The loop budget's pure parts: the ledger (warm-up, offenders, captures
// arriving before or after the request finished, the pause taken off), the
// merge of several processes' summaries, and the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BudgetLedger, mergeSummaries, formatBudget, resolveBudget, optionsFromEnv } from '../../dist/internal.js';

const frame = (functionName, url, lineNumber) => ({ functionName, url, lineNumber, columnNumber: 1 });
const STACK = [frame('pbkdf2Sync', 'node:internal/crypto/pbkdf2', 64), frame('hashPassword', '/app/lib/auth.js', 6), frame('handle', '/app/node_modules/express/lib/router/layer.js', 152)];

test('warm-up per route, offenders with their captured function, the pause taken off', () => {
  const ledger = new BudgetLedger(20, 1);
  ledger.finished({ id: 1, method: 'POST', route: '/login', ownMs: 300 }); // warm-up: not judged
  ledger.captured({ requestId: 2, stack: STACK, pausedMs: 4 }); // capture first, request finishes after
  ledger.finished({ id: 2, method: 'POST', route: '/login', ownMs: 64 });
  ledger.finished({ id: 3, method: 'POST', route: '/login', ownMs: 5 });
  ledger.finished({ id: 4, method: 'GET', route: '/health', ownMs: 1 });
  ledger.finished({ id: 5, method: 'GET', route: '/health', ownMs: 19.9 });
  const summary = ledger.summary();
  assert.equal(summary.judged, 3);
  assert.equal(summary.warmup, 2);
  assert.deepEqual(summary.rows, [
    { method: 'POST', route: '/login', requests: 2, overBudget: 1, worstMs: 60, totalMs: 65, frame: STACK[1], advice: null },
  ]);
});

test('a capture arriving after the request finished names it, and its pause can bring it back under budget', () => {
  const ledger = new BudgetLedger(20, 0);
  ledger.finished({ id: 7, method: 'GET', route: '/a', ownMs: 50 });
  ledger.finished({ id: 8, method: 'GET', route: '/b', ownMs: 23 });
  ledger.captured({ requestId: 7, stack: STACK, pausedMs: 2 });
  ledger.captured({ requestId: 8, stack: STACK, pausedMs: 5 }); // 23 - 5: the pause was all it had over
  const { rows } = ledger.summary();
  assert.equal(rows.length, 1);
  assert.equal(rows[0].route, '/a');
  assert.equal(rows[0].worstMs, 48);
  assert.equal(rows[0].frame.functionName, 'hashPassword');
});

test('expected blocking and warm-up-only offenders never fail; the latter are listed in a note', () => {
  const ledger = new BudgetLedger(20, 1);
  ledger.finished({ id: 1, method: 'GET', route: '/export', ownMs: 90 });
  ledger.finished({ id: 2, method: 'POST', route: '/admin', ownMs: 10 });
  ledger.finished({ id: 3, method: 'POST', route: '/admin', ownMs: 500, expected: true });
  const summary = ledger.summary();
  assert.equal(summary.rows.length, 0);
  assert.deepEqual(summary.warmupOver, [{ method: 'GET', route: '/export', worstMs: 90 }]);
  assert.match(formatBudget(summary), /held \(0 requests judged, 2 warm-up\)\nloopguard: note: GET \/export took 90\.0 ms on its warm-up request only/);
});

test("several processes' summaries add up by route; the function comes with the worst request that has one", () => {
  const a = new BudgetLedger(20, 0);
  a.finished({ id: 1, method: 'POST', route: '/login', ownMs: 40 });
  a.captured({ requestId: 1, stack: STACK, pausedMs: 0 });
  const b = new BudgetLedger(20, 0);
  b.finished({ id: 1, method: 'POST', route: '/login', ownMs: 90 });
  b.finished({ id: 2, method: 'GET', route: '/x', ownMs: 3 });
  const merged = mergeSummaries(20, [a.summary(), JSON.parse(JSON.stringify(b.summary()))]);
  assert.equal(merged.judged, 3);
  assert.equal(merged.rows.length, 1);
  assert.deepEqual(
    { ...merged.rows[0], frame: merged.rows[0].frame.functionName },
    { method: 'POST', route: '/login', requests: 2, overBudget: 2, worstMs: 90, totalMs: 130, frame: 'hashPassword', advice: null },
  );
});

test('the table: one row per route, paths relative to the root, advice under its row', () => {
  const text = formatBudget(
    {
      budgetMs: 20,
      judged: 9,
      warmup: 3,
      warmupOver: [],
      rows: [
        { method: 'POST', route: '/login', requests: 3, overBudget: 3, worstMs: 81.24, totalMs: 240, frame: STACK[1], advice: { call: 'crypto.pbkdf2Sync', kind: 'sync-crypto', fix: 'Use crypto.pbkdf2.', docs: 'https://x#advice-sync-crypto' } },
        { method: 'GET', route: '/r/:id', requests: 4, overBudget: 1, worstMs: 31, totalMs: 40, frame: null, advice: null },
      ],
    },
    '/app',
  );
  const lines = text.split('\n');
  assert.match(lines[0], /^loopguard: loop budget of 20\.0 ms exceeded by 2 routes \(4 requests over budget; 9 requests judged, 3 warm-up\)/);
  assert.match(lines[1], /^ {2}route {7,}worst +total +over budget +blocking function$/);
  assert.match(lines[2], /^ {2}POST \/login +81\.2 ms +240 ms +3 of 3 +hashPassword \(lib\/auth\.js:6\)$/);
  assert.match(lines[3], /^ +advice: crypto\.pbkdf2Sync: Use crypto\.pbkdf2\. \(https:\/\/x#advice-sync-crypto\)$/);
  assert.match(lines[4], /^ {2}GET \/r\/:id +31\.0 ms +40\.0 ms +1 of 4 +\(function not captured\)$/);
});

test('budget settings are checked at construction, naming the variable or the argument', () => {
  assert.throws(() => resolveBudget({ budgetMs: 0 }, { budgetMs: 'budgetMs', warmupRequests: 'w', startupGraceMs: 'g' }), { name: 'InvalidOptionError', message: /"budgetMs"/ });
  // From the environment, a bad budget variable is named in a warning and left out (no budget, or its default).
  const warned = (env, variable) => optionsFromEnv(env).warnings.some((w) => w.includes(variable));
  assert.ok(warned({ LOOPGUARD_BUDGET_MS: 'soon' }, 'LOOPGUARD_BUDGET_MS'));
  assert.equal(optionsFromEnv({ LOOPGUARD_BUDGET_MS: 'soon' }).budget, undefined);
  assert.ok(warned({ LOOPGUARD_BUDGET_MS: '20', LOOPGUARD_BUDGET_WARMUP: '1.5' }, 'LOOPGUARD_BUDGET_WARMUP'));
  assert.ok(warned({ LOOPGUARD_BUDGET_MS: '20', LOOPGUARD_PRECISE: 'false' }, 'LOOPGUARD_PRECISE'));
  const { options, budget } = optionsFromEnv({ LOOPGUARD_BUDGET_MS: '20' });
  assert.equal(options.precise, true);
  assert.equal(options.captureAtMs, 20);
  assert.equal(options.startupGraceMs, 0);
  assert.deepEqual(budget, { budgetMs: 20, warmupRequests: 1, startupGraceMs: 0, runDir: undefined });
  // No busy sampling or pool probe in a test run, unless asked for.
  assert.equal(options.busySampleHz, 0);
  assert.equal(options.threadPoolProbe, false);
  const asked = optionsFromEnv({ LOOPGUARD_BUDGET_MS: '20', LOOPGUARD_THREADPOOL_PROBE: 'true' }).options;
  assert.notEqual(asked.threadPoolProbe, false, 'LOOPGUARD_THREADPOOL_PROBE=true keeps the default probe');
});

test('under a budget the watchdog is asked to capture at the budget, not at half the stall threshold', async () => {
  const { resolveOptions } = await import('../../dist/internal.js');
  const production = resolveOptions({});
  const budget = resolveOptions({ captureAtMs: 20 });
  assert.equal(budget.thresholdMs, production.thresholdMs);
  // The worker looks at the scheduler for 10 ms after captureAfterMs, then pauses: about the budget, well before 60 ms.
  assert.ok(budget.captureAfterMs + 10 <= 20, `captureAfterMs ${budget.captureAfterMs}`);
  assert.ok(production.captureAfterMs + 10 >= 60);
  assert.ok(budget.heartbeatMs <= 5, `heartbeatMs ${budget.heartbeatMs}`);
  assert.equal(resolveOptions({ captureAtMs: 500 }).captureAfterMs, production.captureAfterMs);
  assert.throws(() => resolveOptions({ captureAtMs: -1 }), { name: 'InvalidOptionError', message: /captureAtMs/ });
});
