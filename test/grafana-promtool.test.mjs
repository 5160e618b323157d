// promtool (Debian package `prometheus`) type-checks every dashboard and alert
// expression and runs the alert unit tests in grafana/tests/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { PROMTOOL_BIN } from './helpers/prometheus.mjs';
import { generate, substitute, DASHBOARD_FILE, ALERTS_FILE } from '../dist-grafana/grafana/src/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const GRAFANA = path.join(ROOT, 'grafana');
const UNIT_TESTS = path.join(GRAFANA, 'tests/alerts.test.yml');
const run = promisify(execFile);

/** Runs promtool; resolves { ok, output } instead of throwing, so failures can be asserted on. */
async function promtool(...args) {
  try {
    const { stdout, stderr } = await run(PROMTOOL_BIN, args);
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    return { ok: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}${err.code === 'ENOENT' ? `${PROMTOOL_BIN} not found` : ''}` };
  }
}

/** Values Grafana would put in place of the dashboard's variables; any valid ones do for type checking. */
const VARIABLES = { __rate_interval: '1m', __range: '1h', job: '.+', instance: '.+', route: '.+' };

function withTempDir(fn) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopguard-promtool-'));
  return Promise.resolve(fn(dir)).finally(() => fs.rmSync(dir, { recursive: true, force: true }));
}

/** Each expression as a recording rule: `promtool check rules` parses and type-checks it. */
function recordingRules(exprs) {
  return stringify({ groups: [{ name: 'check', rules: exprs.map((expr, i) => ({ record: `loopguard_check:expr_${i}`, expr })) }] });
}

function dashboardExpressions() {
  const dashboard = JSON.parse(fs.readFileSync(path.join(GRAFANA, DASHBOARD_FILE), 'utf8'));
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => substitute(t.expr, VARIABLES)));
  // Variable queries are Grafana's label_values(selector, label): the selector must be valid PromQL too.
  for (const v of dashboard.templating.list) {
    if (v.type !== 'query') continue;
    const selector = /^label_values\((.*), (\w+)\)$/.exec(v.query);
    assert.ok(selector, `variable ${v.name}: ${v.query}`);
    exprs.push(substitute(selector[1], VARIABLES));
  }
  return exprs;
}

test('promtool accepts the alert rules', async () => {
  const result = await promtool('check', 'rules', path.join(GRAFANA, ALERTS_FILE));
  assert.ok(result.ok, result.output);
  assert.match(result.output, /SUCCESS: 5 rules found/);
});

test('promtool type-checks every dashboard query, with variables substituted', async () => {
  const exprs = dashboardExpressions();
  assert.ok(exprs.length >= 15, `${exprs.length} expressions`);
  await withTempDir(async (dir) => {
    const file = path.join(dir, 'dashboard-queries.yml');
    fs.writeFileSync(file, recordingRules(exprs));
    const result = await promtool('check', 'rules', file);
    assert.ok(result.ok, result.output);
    assert.match(result.output, new RegExp(`SUCCESS: ${exprs.length} rules found`));

    // The same harness rejects a query with a type error, so the check above means something.
    fs.writeFileSync(file, recordingRules([...exprs, 'sum by (route) (rate(loopguard_stalls_total))']));
    const broken = await promtool('check', 'rules', file);
    assert.equal(broken.ok, false);
    assert.match(broken.output, /expected type range vector/);
  });
});

test('promtool unit tests of every alert pass', async () => {
  const result = await promtool('test', 'rules', UNIT_TESTS);
  assert.ok(result.ok, result.output);
  assert.match(result.output, /SUCCESS/);
});

test('every alert has a unit test where it fires and one where it does not', () => {
  const rules = parse(fs.readFileSync(path.join(GRAFANA, ALERTS_FILE), 'utf8')).groups.flatMap((g) => g.rules);
  const cases = parse(fs.readFileSync(UNIT_TESTS, 'utf8')).tests.flatMap((t) => t.alert_rule_test ?? []);
  for (const { alert } of rules) {
    const mine = cases.filter((c) => c.alertname === alert);
    assert.ok(mine.some((c) => c.exp_alerts?.length > 0), `${alert} has no case where it fires`);
    assert.ok(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${alert} has no case where it stays silent`);
  }
});

test('the unit tests catch a changed threshold', async () => {
  // Rules generated with a higher blocked threshold no longer fire at 7 s: the tests must notice.
  await withTempDir(async (dir) => {
    const rules = generate({ alerts: { eventLoopBlocked: { threshold: 10 } } }).find((f) => f.path === ALERTS_FILE);
    fs.writeFileSync(path.join(dir, ALERTS_FILE), rules.content);
    fs.mkdirSync(path.join(dir, 'tests'));
    fs.copyFileSync(UNIT_TESTS, path.join(dir, 'tests/alerts.test.yml'));
    const result = await promtool('test', 'rules', path.join(dir, 'tests/alerts.test.yml'));
    assert.equal(result.ok, false, result.output);
    assert.match(result.output, /alertname: LoopGuardEventLoopBlocked/);
  });
});
