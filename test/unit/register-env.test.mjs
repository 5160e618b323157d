// LOOPGUARD_* environment variables → guard options: the pure mapping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidOptionError } from 'loopguard';
import { optionsFromEnv, ENV_VARIABLES, resolveOptions } from '../../dist/internal.js';

test('no variables: enabled, default options, no logging', () => {
  assert.deepEqual(optionsFromEnv({ PATH: '/usr/bin', NODE_ENV: 'production' }), { enabled: true, options: {}, log: false, warnings: [] });
});

test('each variable lands on its option, typed', () => {
  const { enabled, options, log } = optionsFromEnv({
    LOOPGUARD_THRESHOLD_MS: '250',
    LOOPGUARD_ON_STALL: 'log',
    LOOPGUARD_CAPTURE_STACKS: 'off',
    LOOPGUARD_MAX_ROUTES: '50',
    LOOPGUARD_PRECISE: 'TRUE',
    LOOPGUARD_STARTUP_GRACE_MS: '0',
    LOOPGUARD_MAX_STACK_FRAMES: '8',
    LOOPGUARD_RECENT_STALLS: '10',
    LOOPGUARD_PROMETHEUS_PREFIX: 'myapp_loop_',
    LOOPGUARD_METRICS_PORT: '9464',
    LOOPGUARD_METRICS_HOST: '0.0.0.0',
    LOOPGUARD_OTEL: 'false',
  });
  assert.equal(enabled, true);
  assert.equal(log, true);
  assert.equal(typeof options.onStall, 'function');
  const { onStall, ...rest } = options;
  assert.deepEqual(rest, {
    thresholdMs: 250,
    captureStacks: false,
    maxRoutes: 50,
    precise: true,
    startupGraceMs: 0,
    maxStackFrames: 8,
    recentStalls: 10,
    prometheus: { prefix: 'myapp_loop_' },
    metricsServer: { port: 9464, host: '0.0.0.0' },
    otel: false,
  });
});

test('switches: LOOPGUARD_ENABLED=false, LOOPGUARD_PROMETHEUS=false, LOOPGUARD_ON_STALL=none; empty values are unset', () => {
  assert.equal(optionsFromEnv({ LOOPGUARD_ENABLED: '0' }).enabled, false);
  assert.deepEqual(optionsFromEnv({ LOOPGUARD_PROMETHEUS: 'no' }).options, { prometheus: false });
  // true is the default: nothing to set.
  assert.deepEqual(optionsFromEnv({ LOOPGUARD_PROMETHEUS: 'yes', LOOPGUARD_OTEL: 'true' }).options, {});
  assert.deepEqual(optionsFromEnv({ LOOPGUARD_ON_STALL: 'none' }), { enabled: true, options: {}, log: false, warnings: [] });
  assert.deepEqual(optionsFromEnv({ LOOPGUARD_THRESHOLD_MS: '', LOOPGUARD_METRICS_PORT: '  ' }).options, {});
  assert.deepEqual(optionsFromEnv({ LOOPGUARD_THRESHOLD_MS: ' 150 ' }).options, { thresholdMs: 150 });
});

test('a bad value or an unknown variable is named in one warning and left out; the app starts', () => {
  const cases = [
    [{ LOOPGUARD_THRESHOLD_MS: '100ms' }, 'LOOPGUARD_THRESHOLD_MS', /must be a decimal number, received "100ms"/],
    // Number() would take these; the environment means decimal digits.
    [{ LOOPGUARD_THRESHOLD_MS: '0x64' }, 'LOOPGUARD_THRESHOLD_MS', /must be a decimal number, received "0x64"/],
    [{ LOOPGUARD_MAX_ROUTES: '1e2' }, 'LOOPGUARD_MAX_ROUTES', /must be a decimal number, received "1e2"/],
    [{ LOOPGUARD_METRICS_PORT: '0b1' }, 'LOOPGUARD_METRICS_PORT', /must be a decimal number, received "0b1"/],
    [{ LOOPGUARD_STARTUP_GRACE_MS: 'Infinity' }, 'LOOPGUARD_STARTUP_GRACE_MS', /must be a decimal number, received "Infinity"/],
    [{ LOOPGUARD_THRESHOLD_MS: '-5' }, 'LOOPGUARD_THRESHOLD_MS', /must be a number from 1 to 600000, received "-5"/],
    [{ LOOPGUARD_MAX_ROUTES: '0' }, 'LOOPGUARD_MAX_ROUTES', /must be an integer from 1/],
    [{ LOOPGUARD_PRECISE: 'sometimes' }, 'LOOPGUARD_PRECISE', /true or false/],
    [{ LOOPGUARD_ON_STALL: 'LOG' }, 'LOOPGUARD_ON_STALL', /"log" .* or "none"/],
    [{ LOOPGUARD_PROMETHEUS_PREFIX: 'my-app' }, 'LOOPGUARD_PROMETHEUS_PREFIX', /valid Prometheus metric name prefix/],
    [{ LOOPGUARD_METRICS_PORT: '65536' }, 'LOOPGUARD_METRICS_PORT', /integer from 0 to 65535/],
    [{ LOOPGUARD_METRICS_HOST: '127.0.0.1' }, 'LOOPGUARD_METRICS_HOST', /accompanied by LOOPGUARD_METRICS_PORT/],
    [{ LOOPGUARD_PROMETHEUS: 'false', LOOPGUARD_METRICS_PORT: '9464' }, 'LOOPGUARD_METRICS_PORT', /unset when LOOPGUARD_PROMETHEUS=false/],
    [{ LOOPGUARD_PROMETHEUS: 'false', LOOPGUARD_PROMETHEUS_PREFIX: 'x_' }, 'LOOPGUARD_PROMETHEUS_PREFIX', /unset when LOOPGUARD_PROMETHEUS=false/],
    [{ LOOPGUARD_THRESHOLDMS: '100' }, 'LOOPGUARD_THRESHOLDMS', /unknown environment variable LOOPGUARD_THRESHOLDMS ignored \(known: LOOPGUARD_ENABLED, /],
  ];
  for (const [env, variable, message] of cases) {
    // Never a throw: one warning naming the variable, which is left out (its option keeps its default).
    const { options, warnings } = optionsFromEnv(env);
    assert.equal(warnings.length, 1, `${JSON.stringify(env)}: ${JSON.stringify(warnings)}`);
    assert.ok(warnings[0].includes(variable) && message.test(warnings[0]) && /ignored/.test(warnings[0]), `${JSON.stringify(env)}: ${warnings[0]}`);
    assert.doesNotThrow(() => createOptionsCheck(options), JSON.stringify(env));
  }
});

test('the variables that remain still apply beside one that is left out', () => {
  const { options, warnings } = optionsFromEnv({ LOOPGUARD_THRESHOLD_MS: '250', LOOPGUARD_MAX_ROUTES: 'lots', LOOPGUARD_NOT_A_VARIABLE: '1' });
  assert.deepEqual(options, { thresholdMs: 250 });
  assert.equal(warnings.length, 2);
  assert.match(warnings.join('\n'), /LOOPGUARD_MAX_ROUTES/);
  assert.match(warnings.join('\n'), /unknown environment variable LOOPGUARD_NOT_A_VARIABLE ignored/);
  const next = optionsFromEnv({ LOOPGUARD_IGNORE: '/healthz, /internal/:probe', LOOPGUARD_REPORTS_PER_CULPRIT_PER_MINUTE: '3', LOOPGUARD_BUSY_SAMPLE_HZ: '0', LOOPGUARD_SHED: 'true', LOOPGUARD_OTEL_TRACES: 'false' });
  assert.deepEqual(next.warnings, []);
  assert.deepEqual(next.options, { ignore: ['/healthz', '/internal/:probe'], reportsPerCulpritPerMinute: 3, busySampleHz: 0, shed: true, otel: { traces: false } });
});

/** The options that remain are valid options. */
function createOptionsCheck(options) {
  return resolveOptions(options);
}

test('every documented variable is accepted with a sensible value, and lands on its option', () => {
  const sample = { number: '5', boolean: 'true', string: 'x_', onStall: 'log', list: '/a,/b/:id' };
  for (const variable of ENV_VARIABLES) {
    // A kind with no sample would set nothing and pass without checking.
    assert.ok(Object.hasOwn(sample, variable.kind), `${variable.name}: a sample value for kind ${variable.kind}`);
    const env = { [variable.name]: sample[variable.kind] };
    if (variable.name === 'LOOPGUARD_METRICS_HOST') env.LOOPGUARD_METRICS_PORT = '0';
    if (variable.name === 'LOOPGUARD_THREADPOOL_PROBE_INTERVAL_MS') env[variable.name] = '1000';
    if (variable.name === 'LOOPGUARD_BUDGET_WARMUP') env.LOOPGUARD_BUDGET_MS = '20';
    let result;
    assert.doesNotThrow(() => (result = optionsFromEnv(env)), variable.name);
    // Accepted: nothing left out (a host beyond loopback is accepted with a note about the open endpoint).
    assert.deepEqual(result.warnings.filter((w) => !/serves \/metrics beyond this machine/.test(w)), [], variable.name);
    // A boolean 'true' is the default (nothing to set); every other value must reach its option.
    if (variable.option !== '' && variable.kind !== 'boolean') {
      const value = variable.option.split('.').reduce((o, key) => o?.[key], result.options);
      assert.notEqual(value, undefined, `${variable.name} set ${variable.option}`);
    }
  }
});

test('LOOPGUARD_METRICS_HOST beyond loopback is accepted with a warning about the unauthenticated endpoint', () => {
  for (const host of ['0.0.0.0', '::', '10.1.2.3']) {
    const { options, warnings } = optionsFromEnv({ LOOPGUARD_METRICS_PORT: '9464', LOOPGUARD_METRICS_HOST: host });
    assert.deepEqual(options.metricsServer, { port: 9464, host });
    assert.equal(warnings?.length, 1, host);
    assert.match(warnings[0], new RegExp(`LOOPGUARD_METRICS_HOST=${host.replace(/\./g, '\\.')} .*no authentication`));
  }
  for (const host of ['127.0.0.1', '::1', 'localhost']) assert.deepEqual(optionsFromEnv({ LOOPGUARD_METRICS_PORT: '9464', LOOPGUARD_METRICS_HOST: host }).warnings, [], host);
});

test('LOOPGUARD_EXPECTED_BLOCKING_ROUTES: comma-separated route templates; a bad one is named by the variable', () => {
  const { options } = optionsFromEnv({ LOOPGUARD_EXPECTED_BLOCKING_ROUTES: ' /admin/export , /reports/:month,' });
  assert.deepEqual(options.expectedBlockingRoutes, ['/admin/export', '/reports/:month']);
  const bad = optionsFromEnv({ LOOPGUARD_EXPECTED_BLOCKING_ROUTES: '/admin/export,admin/import' });
  assert.equal(bad.options.expectedBlockingRoutes, undefined, 'left out');
  assert.ok(bad.warnings.some((w) => /LOOPGUARD_EXPECTED_BLOCKING_ROUTES/.test(w) && /admin\/import/.test(w)), JSON.stringify(bad.warnings));
});
