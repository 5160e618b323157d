// Which Prometheus client loopguard uses when the app passes no registry
// (prom-client or @prometheus-io/client; both are installed in this repo),
// and that a registry passed in is used through its own library. Each case
// runs in a fresh process: "already loaded" is per process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { choosePromClient } from '../../dist/internal.js';
import { promtoolCheck } from '../fixtures/prometheus-text.mjs';

const run = promisify(execFile);

/** Runs an ESM snippet in a new process; returns what it printed as JSON. */
async function inFreshProcess(source) {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', source], { cwd: new URL('../..', import.meta.url) });
  return JSON.parse(stdout);
}

const WHICH = `
import { createRequire } from 'node:module';
const require = createRequire(process.cwd() + '/');
const loaded = (name) => require.cache[require.resolve(name)] !== undefined;
const inRegister = (name) => loaded(name) && require(name).register.getSingleMetric('loopguard_stalls_total') !== undefined;
const report = () => ({
  promClient: { loaded: loaded('prom-client'), ours: inRegister('prom-client') },
  prometheusIo: { loaded: loaded('@prometheus-io/client'), ours: inRegister('@prometheus-io/client') },
});
`;

test('the rule: the one library the app has loaded, else @prometheus-io/client, else prom-client', () => {
  const both = ['@prometheus-io/client', 'prom-client'];
  assert.equal(choosePromClient(both, []), '@prometheus-io/client');
  assert.equal(choosePromClient(both, ['prom-client']), 'prom-client');
  assert.equal(choosePromClient(both, ['@prometheus-io/client']), '@prometheus-io/client');
  assert.equal(choosePromClient(both, both), '@prometheus-io/client');
  assert.equal(choosePromClient(['prom-client'], []), 'prom-client');
  assert.equal(choosePromClient(['prom-client'], ['@prometheus-io/client']), 'prom-client', 'a loaded library that is not installed here does not count');
  assert.equal(choosePromClient(['@prometheus-io/client'], []), '@prometheus-io/client');
  assert.equal(choosePromClient([], []), undefined);
});

test('both installed, neither loaded: @prometheus-io/client, and prom-client is never loaded', async () => {
  const result = await inFreshProcess(`${WHICH}
    const { createLoopGuard } = await import('loopguard');
    const guard = createLoopGuard({ otel: false });
    console.log(JSON.stringify(report()));
    guard.close();`);
  assert.deepEqual(result, { promClient: { loaded: false, ours: false }, prometheusIo: { loaded: true, ours: true } });
});

test("both installed, the app imported prom-client: prom-client's default registry, and @prometheus-io/client is never loaded", async () => {
  const result = await inFreshProcess(`${WHICH}
    await import('prom-client');
    const { createLoopGuard } = await import('loopguard');
    const guard = createLoopGuard({ otel: false });
    console.log(JSON.stringify(report()));
    guard.close();`);
  assert.deepEqual(result, { promClient: { loaded: true, ours: true }, prometheusIo: { loaded: false, ours: false } });
});

for (const [own, other] of [
  ['prom-client', '@prometheus-io/client'],
  ['@prometheus-io/client', 'prom-client'],
]) {
  test(`a ${own} registry passed in gets the series, rendered by ${own}, while ${other} is loaded too`, async () => {
    const result = await inFreshProcess(`${WHICH}
      const otherLib = await import('${other}');
      const { Registry } = (await import('${own}')).default;
      const { createLoopGuard } = await import('loopguard');
      const registry = new Registry();
      const guard = createLoopGuard({ otel: false, prometheus: { registry } });
      const text = await registry.metrics();
      console.log(JSON.stringify({ ...report(), own: registry.getSingleMetric('loopguard_stalls_total') !== undefined, text }));
      guard.close();`);
    assert.equal(result.own, true, 'series in the registry passed in');
    // The default registry of whichever library loopguard would pick gets nothing.
    assert.equal(result.promClient.ours || result.prometheusIo.ours, false, 'no series in a default registry');
    const { code, output } = await promtoolCheck(result.text);
    assert.equal(output, '');
    assert.equal(code, 0);
  });
}
